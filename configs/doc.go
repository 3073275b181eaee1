// Package configs holds the engine's configuration as plain data: one typed
// struct, its defaults and its validation. It reads no files and no
// environment; cmd/engine fills the struct from the environment using the
// `env` tag on each field, then calls Validate once at start-up. A bad value
// stops the process with a message naming the variable.
package configs

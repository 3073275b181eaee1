// Package configs holds the engine's configuration as plain data: one typed
// struct, its defaults and its validation. It reads no files and no
// environment; cmd/engine fills the struct from the environment using the
// `env` tag on each field, calls AdaptDefaults with the variables that were
// set, then Validate once at start-up. A bad value stops the process with a
// message naming the variable.
//
// Guarantees: Defaults() validates, and so does any configuration that sets
// one variable to a valid value and leaves the rest to their defaults: a
// default that depends on another variable (WINDOW_WARNING on
// WHATSAPP_SERVICE_WINDOW, ALLOWED_ORIGINS and SANDBOX_PORT on PORT) follows
// it when it was not set itself. The one exception is a pair that only
// works together: DATA_ENCRYPTION_KEYS needs DATA_HASH_KEY (a lookup hash
// key cannot be derived from keys that rotate). Explicit values are never
// changed; an explicit impossible pair is refused naming both variables.
// CLUSTER_PROVIDER is another group that only works together: it needs
// CLUSTER_BIND and its provider's list (CLUSTER_ETCD_ENDPOINTS or
// CLUSTER_SEEDS); unset, the engine is one node and every CLUSTER_* is
// ignored. Validate checks by section (server, storage, encryption, auth,
// limits, conversations, whatsapp, sending, calls, cluster) and reports
// every bad variable at once. The format of the encryption keys is checked by
// persistence/sealed when cmd/engine builds its keyring.
package configs

package configs

import (
	"fmt"
	"time"
)

// derivedDefault is a default that depends on another setting: when its
// variable was not set, adapt makes it fit the partner the operator did set,
// so that no combination of one explicit value and the defaults refuses to
// start. An explicit value is never changed; an explicit impossible pair is
// refused by Validate, naming both variables.
type derivedDefault struct {
	env     string // the variable whose default follows
	partner string // the variable it follows
	adapt   func(c *Config)
}

// derivedDefaults lists every default that follows another variable.
var derivedDefaults = []derivedDefault{
	{env: "WINDOW_WARNING", partner: "WHATSAPP_SERVICE_WINDOW", adapt: func(c *Config) {
		// The default warning (1h) does not fit a window of 1h or less: it
		// becomes a quarter of the window.
		if c.WindowWarning >= c.ServiceWindow {
			c.WindowWarning = (c.ServiceWindow / 4).Truncate(time.Millisecond)
		}
	}},
	{env: "ALLOWED_ORIGINS", partner: "PORT", adapt: func(c *Config) {
		// The console is served by the engine itself: the default origins
		// are the engine's own address on the configured port.
		if c.Port != 0 {
			c.AllowedOrigins = []string{fmt.Sprintf("http://localhost:%d", c.Port), fmt.Sprintf("http://127.0.0.1:%d", c.Port)}
		}
	}},
	{env: "SANDBOX_PORT", partner: "PORT", adapt: func(c *Config) {
		// An API moved onto the sandbox's default port pushes the sandbox
		// to any free port (logged at start-up).
		if c.SandboxPort == c.Port {
			c.SandboxPort = 0
		}
	}},
	{env: "SANDBOX_EXOTEL_PORT", partner: "PORT", adapt: func(c *Config) {
		// Likewise for the Exotel sandbox, moved off the API's port and
		// the WhatsApp sandbox's.
		if c.SandboxExotelPort == c.Port || c.SandboxExotelPort == c.SandboxPort {
			c.SandboxExotelPort = 0
		}
	}},
}

// AdaptDefaults makes every default that follows another variable fit it.
// isSet reports whether a variable was given explicitly (its value then
// stays as it is). cmd/engine calls it after reading the environment and
// before Validate.
func (c *Config) AdaptDefaults(isSet func(env string) bool) {
	for _, d := range derivedDefaults {
		if !isSet(d.env) {
			d.adapt(c)
		}
	}
}

// SandboxRuns reports whether the built-in WhatsApp sandbox runs: outside
// production, without a Cloud API access token.
func (c Config) SandboxRuns() bool { return !c.Production() && c.WhatsAppAccessToken == "" }

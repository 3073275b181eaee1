package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/configs"
)

// loadConfig fills configs.Defaults() from the environment, one variable per
// field as named by its env tag, adapts the defaults that follow a variable
// that was set (configs.AdaptDefaults), and validates the result. Every malformed or
// invalid variable is named in the returned error.
func loadConfig(getenv func(string) string) (configs.Config, error) {
	cfg := configs.Defaults()
	v := reflect.ValueOf(&cfg).Elem()
	t := v.Type()
	var problems []string
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("env")
		raw := strings.TrimSpace(getenv(name))
		if name == "" || raw == "" {
			continue
		}
		if err := setField(v.Field(i), raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if len(problems) > 0 {
		return cfg, invalidConfig(problems)
	}
	cfg.AdaptDefaults(func(name string) bool { return strings.TrimSpace(getenv(name)) != "" })
	if err := cfg.Validate(); err != nil {
		return cfg, invalidConfig(strings.Split(err.Error(), "\n"))
	}
	return cfg, nil
}

// invalidConfig is the error of a configuration that cannot start: one line
// when one variable is wrong, one indented line per variable otherwise.
func invalidConfig(problems []string) error {
	if len(problems) == 1 {
		return fmt.Errorf("invalid configuration: %s", problems[0])
	}
	return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
}

func setField(f reflect.Value, raw string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(raw)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		f.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		f.SetInt(n)
	case time.Duration:
		d, err := parseDuration(raw)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case []string:
		var out []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		f.Set(reflect.ValueOf(out))
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}

// parseDuration accepts Go durations ("15m", "1h30m") plus whole days
// ("7d"), and a bare number of seconds ("900").
func parseDuration(raw string) (time.Duration, error) {
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(raw, "d") {
		n, err := strconv.ParseInt(strings.TrimSuffix(raw, "d"), 10, 64)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q is not a duration such as 7d, 12h or 15m", raw)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 7d, 12h or 15m", raw)
	}
	return d, nil
}

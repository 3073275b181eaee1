package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/auth"
)

// adminCommand runs `engine admin create --email E --password-stdin`.
func adminCommand(ctx context.Context, cfg configs.Config, log *zap.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: engine admin create --email E --password-stdin [--name N]")
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	email := fs.String("email", "", "admin email")
	name := fs.String("name", "Administrator", "display name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !*fromStdin {
		return errors.New("admin create: --password-stdin is required (passwords are never taken as arguments)")
	}
	addr, err := app.NormalizeEmail(*email)
	if err != nil {
		return fmt.Errorf("admin create: --email %q is not a valid email address", *email)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("admin create: read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if n := len([]rune(password)); n < 8 || n > 128 {
		return errors.New("admin create: password must be 8 to 128 characters")
	}
	if auth.Breached(password) {
		return errors.New("admin create: the password is a common or breached password; choose another")
	}
	// Only the store: no listener, queue or lock, so this works while the
	// engine runs on the same database (SQLite takes writers from several
	// processes one at a time).
	store, _, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Warn("close store", zap.Error(err))
		}
	}()
	// CreateUser needs only the user store.
	accounts := app.New(app.Deps{Users: store, Log: log})
	u, err := accounts.CreateUser(ctx, app.NewUser{Email: addr, Password: password, Name: *name, Role: actors.RoleAdmin})
	if msg := adminEmailProblem(addr, err); msg != "" {
		return fmt.Errorf("admin create: %s", msg)
	}
	if err != nil {
		return fmt.Errorf("admin create: %w", err)
	}
	fmt.Fprintf(stdout, "admin %s created with id %s\n", addr, u.ID)
	return nil
}

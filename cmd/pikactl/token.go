package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager"
)

// adminToken is the admin token the options give: --token (or
// PIKA_ADMIN_TOKEN), else the first line of --token-file, else "".
func (a *app) adminToken() (string, error) {
	if a.opts.token != "" {
		return a.opts.token, nil
	}
	if tok := a.getenv("PIKA_ADMIN_TOKEN"); tok != "" || a.opts.tokenFile == "" {
		return tok, nil
	}
	tok, err := manager.ReadAdminTokenFile(a.opts.tokenFile)
	if err != nil {
		return "", &usageError{msg: fmt.Sprintf("--token-file: %v", err)}
	}
	return tok, nil
}

func (a *app) tokenCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Manage the cluster's admin token",
		Long: `Every change through pikactl needs the cluster's admin token: --token, else
PIKA_ADMIN_TOKEN, else the first line of --token-file. The node that
bootstrapped the cluster wrote it to <data>/admin.token.`,
		Example:                    "  pikactl --token-file /var/lib/pika/admin.token token rotate",
		Args:                       unknownVerb,
		RunE:                       showHelp,
		SuggestionsMinimumDistance: 2,
	}
	c.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Replace the admin token with a new random one",
		Long: `Replace the cluster's admin token with a new random one and print it. The
old token stops working at once, on every node. With --token-file the file
is rewritten with the new token (mode 0600); otherwise keep the printed one:
it is not stored anywhere in clear (the admin.token file the first manager
wrote is not updated either).`,
		Example: `  pikactl --token-file ~/.pika-admin.token token rotate
  PIKA_ADMIN_TOKEN=... pikactl --json token rotate | jq -r .token`,
		Args: positional(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				t, err := b.RotateAdminToken(ctx)
				if err != nil {
					return err
				}
				if a.opts.tokenFile != "" {
					if err := manager.WriteAdminTokenFile(a.opts.tokenFile, t.Token); err != nil {
						return fmt.Errorf("the token was rotated but %s was not rewritten (the new token follows): %w\n%s", a.opts.tokenFile, err, t.Token)
					}
				}
				if a.opts.json {
					return writeJSON(a.s.out, t)
				}
				_, err = fmt.Fprintln(a.s.out, t.Token)
				return err
			})
		},
	})
	return c
}

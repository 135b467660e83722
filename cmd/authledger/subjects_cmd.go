package main

import "github.com/spf13/cobra"

func newSubjectsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subjects",
		Short: "the people authledger signs in: enrol a first passkey",
		Args:  noArgs,
		RunE:  needSubcommand,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "enrol SUBJECT",
		Aliases: []string{"enroll"},
		Short:   "print a one-time link that registers the subject's first passkey",
		Long:    subjectsUsage,
		Example: "  authledger subjects enrol user-8f14e45f",
		Args:    exactArgs("SUBJECT"),
		RunE: func(c *cobra.Command, args []string) error {
			return runSubjects(c.Context(), []string{"enrol", args[0]}, c.OutOrStdout(), c.ErrOrStderr())
		},
	})
	return cmd
}

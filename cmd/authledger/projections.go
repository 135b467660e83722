package main

import (
	"context"
	"errors"
	"io"
)

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("projections: not implemented yet")
}

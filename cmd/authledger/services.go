package main

import (
	"context"
	"errors"
	"io"
)

func runServices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("services: not implemented yet")
}

package ike

import (
	"fmt"
	"io"
	"log/slog"
)

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

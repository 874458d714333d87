package fib

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// SAParams carries an ESP key, and States travel to show commands, logs
// and tests. String (in state.go) covers a *SAParams printed with %v, but
// a SAParams value, %x, %#v, a JSON log handler or a JSON show command
// would still print Key. These methods close those doors: every way
// Go's standard library has of printing a SAParams prints its String
// form, never the key. TestSecrets holds them to it.

// Format implements fmt.Formatter: every verb (%v, %+v, %#v, %s, %x, ...)
// prints the String form.
func (p SAParams) Format(f fmt.State, _ rune) {
	io.WriteString(f, p.redacted())
}

// LogValue implements slog.LogValuer: the SA's parameters without its key.
func (p SAParams) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("cipher", p.Transform()),
		slog.String("spi", "0x"+hex32(p.SPI)),
		slog.Bool("esn", p.ESN),
		slog.Int("replay-window", p.ReplayWindow),
		slog.Bool("anti-replay", !p.NoAntiReplay),
	)
}

// MarshalJSON implements json.Marshaler, leaving the key out. There is
// deliberately no way to get a key back out of JSON: tools that store
// keys use their own formats.
func (p SAParams) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		SPI          string `json:"spi"`
		Cipher       string `json:"cipher"`
		ESN          bool   `json:"esn"`
		ReplayWindow int    `json:"replay-window"`
		AntiReplay   bool   `json:"anti-replay"`
	}{"0x" + hex32(p.SPI), p.Transform(), p.ESN, p.ReplayWindow, !p.NoAntiReplay})
}

func (p SAParams) redacted() string { return (&p).String() }

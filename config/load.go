package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/spf13/viper"
)

// Load reads, decodes and validates the YAML file at path. On any problem in
// the file's contents it returns Errors (errors.Is(err, ErrInvalid)), listing
// every bad field; the caller must then keep whatever configuration it runs.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, filepath.Dir(path))
}

// Parse decodes and validates a YAML document, as Load does for a file.
// Relative password-file paths are taken from the current directory.
func Parse(data []byte) (*Config, error) {
	return parse(data, ".")
}

// parse is Parse with relative file names resolved against baseDir.
func parse(data []byte, baseDir string) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, Errors{{Path: "(file)", Reason: fmt.Sprintf("not valid YAML: %v", err)}}
	}
	cfg := Defaults()
	d := &decoder{}
	d.decode("", v.AllSettings(), reflect.ValueOf(&cfg).Elem())
	// AllSettings leaves out keys written with no value ("bgpp:"); AllKeys
	// has them, so an unknown key is caught even when it is empty.
	for _, k := range v.AllKeys() {
		if v.Get(k) == nil && !knownPath(reflect.TypeFor[Config](), k) {
			d.fail(k, nil, "unknown key")
		}
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	cfg.applyNeighborDefaults()
	cfg.applyVRFDefaults()
	cfg.applyIKEDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs
	}
	if errs := append(cfg.resolveSocketGroup(), append(cfg.readSecrets(baseDir), append(cfg.readKeys(baseDir), append(cfg.readPSKs(baseDir), cfg.readIKECerts(baseDir)...)...)...)...); len(errs) > 0 {
		return nil, errs
	}
	return &cfg, nil
}

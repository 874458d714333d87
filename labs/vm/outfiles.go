package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// outPrefix starts a console line that carries a line of an output file
// out of the VM: "PEREGRINE-VM-OUT scale.csv: 100,1.5,...". The VM has no
// shared directory with the host; its serial console is the one channel.
const outPrefix = "PEREGRINE-VM-OUT "

// outFiles writes the lines a run sends with outPrefix into files under
// dir, each file truncated at its first line of the run.
type outFiles struct {
	dir   string
	files map[string]*os.File
}

func newOutFiles(dir string) *outFiles { return &outFiles{dir: dir, files: map[string]*os.File{}} }

// line appends text to its file if line is an outPrefix line and a
// directory was given; other lines are not its business.
func (o *outFiles) line(line string) error {
	rest, ok := strings.CutPrefix(line, outPrefix)
	if !ok || o.dir == "" {
		return nil
	}
	name, text, ok := strings.Cut(rest, ": ")
	if !ok || !validOutName(name) {
		return fmt.Errorf("console line %q: want %sNAME: TEXT with NAME a plain file name", line, outPrefix)
	}
	f := o.files[name]
	if f == nil {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return err
		}
		var err error
		if f, err = os.Create(filepath.Join(o.dir, name)); err != nil {
			return err
		}
		o.files[name] = f
	}
	_, err := fmt.Fprintln(f, text)
	return err
}

// validOutName keeps what the VM names inside dir: no separators, no
// dot-files (and so no "..").
func validOutName(name string) bool {
	return name != "" && name[0] != '.' && !strings.ContainsAny(name, `/\`) && len(name) <= 64
}

func (o *outFiles) close() {
	for _, f := range o.files {
		f.Close()
	}
}

package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// plotCSV draws a scale.csv measured elsewhere (make bench-scale-vm's,
// written from the VM's console by labs/vm -out) with this command's
// plot, the title naming backend instead of the userspace one, next to
// the CSV as scale.png; it returns the PNG's path.
func plotCSV(ctx context.Context, csvPath, backend string) (string, error) {
	png := strings.TrimSuffix(csvPath, ".csv") + ".png"
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return "", fmt.Errorf("gnuplot not installed (apt-get install gnuplot-nox)")
	}
	script := strings.Replace(fmt.Sprintf(plotScript, csvPath, png), "(userspace backend)", "("+backend+")", 1)
	cmd := exec.CommandContext(ctx, gp)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return png, nil
}

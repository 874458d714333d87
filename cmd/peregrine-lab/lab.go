package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/peregrine-net/peregrine/labs/clab"
)

// lab runs `peregrine-lab deploy|inspect|destroy|demo|check -t FILE`: a
// containerlab topology in network namespaces, without Docker (package
// labs/clab). check judges a deployed lab, and with -docker one that
// containerlab deployed (make clab-test).
func lab(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	verb := args[0]
	switch verb {
	case "deploy", "inspect", "destroy", "demo", "check":
	default:
		return errUsage
	}
	fs := flag.NewFlagSet("peregrine-lab "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("t", "", "containerlab topology `file` (*.clab.yml)")
	destroy := fs.Bool("destroy", false, "demo: destroy the lab at the end instead of leaving it up")
	peregrined := fs.String("peregrined", "", "peregrined `binary` (default: next to peregrine-lab, else $PATH)")
	docker := fs.String("docker", "", "check: the lab was deployed by containerlab; reach its nodes with this docker `CLI` (docker exec)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "peregrine-lab: -t FILE is required")
		return errUsage
	}
	topo, err := clab.Load(*file)
	if err != nil {
		return err
	}
	if err := clab.RequireRoot(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := clab.Options{Peregrined: *peregrined, Progress: stdout}
	switch verb {
	case "deploy":
		if _, err := clab.Deploy(ctx, topo, opts); err != nil {
			return err
		}
		return inspectLab(topo.Name, stdout)
	case "inspect":
		return inspectLab(topo.Name, stdout)
	case "destroy":
		if err := clab.Destroy(topo.Name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: destroyed\n", topo.Name)
		return nil
	case "demo":
		return demo(ctx, topo, opts, *destroy, stdout)
	case "check":
		if *docker != "" {
			return check(ctx, topo, &dockerNodes{docker: *docker, lab: topo.Name}, stdout)
		}
		st, err := clab.Inspect(topo.Name)
		if err != nil {
			return err
		}
		return check(ctx, topo, newNetnsNodes(st), stdout)
	}
	return errUsage
}

func inspectLab(name string, w io.Writer) error {
	st, err := clab.Inspect(name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tNAMESPACE\tPID\tSTATE\tLOG")
	for _, n := range st.Nodes {
		state := "running"
		if !n.Running {
			state = "DOWN"
		}
		pid := "-"
		if len(n.Daemons) > 0 {
			var ps []string
			for _, d := range n.Daemons {
				ps = append(ps, fmt.Sprint(d.PID))
			}
			pid = strings.Join(ps, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Role, n.Namespace, pid, state, orDash(n.Log))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errNotConverged is the demo's and lab check's failure: the lab is
// deployed but did not pass the check; the verdict line says why.
var errNotConverged = errors.New("the lab failed its check (see the verdict)")

package peers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// StartPeregrined writes configYAML to the lab's directory, checks it with
// `peregrined -check` (so a bad config fails here, naming the field, rather
// than as a daemon that never comes up) and starts `peregrined -c FILE
// -state-dir DIR` in node under the lab's supervision, DIR being the
// node's own, in the lab's directory. It returns once the process has
// started; tests wait for what they need (a session Established at a peer,
// a route) with Eventually or WaitRoute.
func StartPeregrined(node *netns.Node, binPath, configYAML string) (*netns.Process, error) {
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-peregrined")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "peregrined.yml")
	if err := os.WriteFile(conf, []byte(configYAML), 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := node.Exec(ctx, binPath, "-check", "-c", conf); err != nil {
		return nil, fmt.Errorf("peregrined@%s: config rejected: %w\n%s", node.Name(), err, out)
	}
	// Each daemon has its own state directory (the persisted ESP sequence
	// numbers of its manual keys), never the host's /var/lib/peregrine.
	state := filepath.Join(dir, "state")
	return node.StartCommand(netns.Command{Path: binPath, Args: []string{"-c", conf, "-state-dir", state}, Dir: dir})
}

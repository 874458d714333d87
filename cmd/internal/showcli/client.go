package showcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// Client reads peregrined's local API.
type Client struct {
	sock string
	http *http.Client
}

// NewClient returns a Client for the control socket at sock.
func NewClient(sock string) *Client {
	return &Client{sock: sock, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}}
}

func (c *Client) get(path string, v any) error {
	resp, err := c.http.Get("http://peregrined" + path)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("cannot reach peregrined at %s: %w (the socket is for its user and control.socket-group)", c.sock, err)
		}
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot reach peregrined at %s: %w (is it running? -s sets the socket)", c.sock, err)
		}
		return fmt.Errorf("cannot reach peregrined at %s: %w", c.sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e localapi.Error
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("peregrined answered %s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

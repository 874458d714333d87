package config

import (
	"os/user"
	"strconv"
)

// resolveSocketGroup looks control.socket-group up in the system's group
// database (a name, or a numeric gid that must exist) and stores its gid.
func (c *Config) resolveSocketGroup() Errors {
	name := c.Control.SocketGroup
	c.Control.SocketGID = -1
	if name == "" {
		return nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		if _, numErr := strconv.Atoi(name); numErr == nil {
			g, err = user.LookupGroupId(name)
		}
	}
	if err != nil {
		return Errors{{Path: "control.socket-group", Value: strconv.Quote(name), Reason: "no such group"}}
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return Errors{{Path: "control.socket-group", Value: strconv.Quote(name), Reason: "group has a non-numeric gid " + strconv.Quote(g.Gid)}}
	}
	c.Control.SocketGID = gid
	return nil
}

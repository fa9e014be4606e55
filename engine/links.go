package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// WatchLinks reads the interface names again whenever a link of the
// namespace is added, removed, renamed or changed (rtnetlink RTNLGRP_LINK),
// until ctx ends: a port renamed under a known index is seen at once,
// where a miss only notices new indexes. Run it in its own goroutine.
func (e *Engine) WatchLinks(ctx context.Context) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("link events: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		return fmt.Errorf("link events: %w", err)
	}
	// Wake up now and then to see ctx end.
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("link events: %w", err)
	}
	buf := make([]byte, 32<<10)
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			// Events were lost: read the names anyway.
		case err != nil:
			return fmt.Errorf("link events: %w", err)
		case n == 0:
			continue
		}
		if e.ports.cur.Load() != nil { // nothing to refresh before the first read
			_ = e.ports.read()
		}
	}
	return nil
}

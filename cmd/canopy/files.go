package main

import (
	"syscall"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/logger"
)

// spareFiles is about how many descriptors the server holds besides its
// clients: listeners, the epoll and wake-up descriptors of each loop, the
// log file, the monitor's and the leaf links' sockets.
const spareFiles = 64

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the soft limit in force afterwards and the hard one. Go's os package does
// the same quietly at start on Unix; doing it here again makes it part of
// Canopy's contract, not the runtime's, and gives the figure to log. A
// process without CAP_SYS_RESOURCE cannot raise the hard limit, so that is
// as far as it goes.
func raiseFileLimit() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	if rl.Cur < rl.Max {
		up := syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err != nil {
			return rl.Cur, rl.Max, err
		}
		rl = up
	}
	return rl.Cur, rl.Max, nil
}

// logFileLimit writes the open-file limit into the start-up banner, and
// warns when max_connections asks for more clients than it allows: a user
// who set it wants to know why it cannot be met.
func logFileLimit(log *logger.Logger, opts *conf.Options) {
	soft, hard, err := raiseFileLimit()
	switch {
	case soft == 0:
		log.Warnf("Could not read the open file limit (RLIMIT_NOFILE): %v", err)
		return
	case err != nil:
		log.Noticef("  Files:    %d open at most (RLIMIT_NOFILE; raising it to the hard limit %d failed: %v)", soft, hard, err)
	default:
		log.Noticef("  Files:    %d open at most (RLIMIT_NOFILE, the hard limit)", soft)
	}
	// The default max_connections is nats-server's 64K, which most
	// limits do not reach; only one the user chose is worth a warning.
	clients := int64(soft) - spareFiles
	if opts.MaxConn > 0 && opts.MaxConn != conf.DefaultMaxConn && int64(opts.MaxConn) > clients {
		log.Warnf("max_connections is %d but the open file limit (%d) leaves room for about %d clients; raise the hard limit (ulimit -Hn) to meet it",
			opts.MaxConn, soft, clients)
	}
}

package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// asServerEnv makes the test binary behave as nats-server when the suite
// test starts it as a child: a server program that takes "-c FILE", without
// building one.
const asServerEnv = "CANOPY_BENCH_TEST_AS_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(asServerEnv) == "1" {
		serveAsNatsServer(os.Args[1:])
		return
	}
	os.Exit(m.Run())
}

func serveAsNatsServer(args []string) {
	fs := flag.NewFlagSet("nats-server", flag.ExitOnError)
	opts, err := server.ConfigureOptions(fs, args, server.PrintServerAndExit, fs.Usage, server.PrintTLSHelpAndDie)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s.ConfigureLogger()
	if err := server.Run(s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s.WaitForShutdown()
}

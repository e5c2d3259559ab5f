// xds-client: the test bed's stand-in for Envoy's xDS stream (Envoy is not built here). The Istio agent opens its
// connection to istiod only when a proxy connects to its xDS socket, and istiod auto-registers a VM only on that
// connection. This program reads the gRPC xDS bootstrap the agent writes from its own node metadata
// (GRPC_XDS_BOOTSTRAP, default ./etc/istio/proxy/grpc-bootstrap.json), dials the agent's socket named there and
// keeps one ADS stream open, as Envoy would: the node and metadata istiod sees are the agent's own. It reconnects
// while the agent restarts and exits once the agent has been gone for a minute (the proxy was stopped). With a
// second argument, the agent's root as this process sees it (`/proc/<agent pid>/root` for an agent in a
// container), the socket path is taken under it.
// Built by scripts/testbed/xdsClient.ts against the pinned istio.io/istio module.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"istio.io/istio/pkg/istio-agent/grpcxds"
)

const listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"

func stream(path, root string) error {
	b, err := grpcxds.LoadBootstrap(path)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if len(b.XDSServers) == 0 || b.Node == nil {
		return fmt.Errorf("%s: no xds server or node", path)
	}
	target := b.XDSServers[0].ServerURI
	if root != "" && strings.HasPrefix(target, "unix://") {
		target = "unix://" + filepath.Join(root, strings.TrimPrefix(target, "unix://"))
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ads, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(context.Background())
	if err != nil {
		return err
	}
	if err := ads.Send(&discovery.DiscoveryRequest{Node: b.Node, TypeUrl: listenerType}); err != nil {
		return err
	}
	fmt.Printf("%s stream open to %s as %s\n", time.Now().Format(time.RFC3339), target, b.Node.Id)
	for {
		if _, err := ads.Recv(); err != nil {
			return err
		}
	}
}

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: xds-client <grpc-bootstrap.json> [<agent root>]")
		os.Exit(2)
	}
	root := ""
	if len(os.Args) == 3 {
		root = os.Args[2]
	}
	lastUp := time.Now()
	for time.Since(lastUp) < time.Minute {
		started := time.Now()
		err := stream(os.Args[1], root)
		if time.Since(started) > 2*time.Second {
			lastUp = time.Now()
		}
		fmt.Printf("%s stream ended: %v\n", time.Now().Format(time.RFC3339), err)
		time.Sleep(time.Second)
	}
}

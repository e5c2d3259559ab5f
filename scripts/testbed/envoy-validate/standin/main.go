// envoy-standin: the data path of the envoy runtime with named stand-ins, none of them Envoy or Istio.
//
//	envoy-standin client  --config FILE --root DIR --cluster NAME [--connect HOST:PORT] [--send TEXT]
//	envoy-standin forward --config FILE --root DIR --listener NAME
//	envoy-standin gateway --listen HOST:PORT --route SNI=HOST:PORT ...
//	envoy-standin sidecar --listen HOST:PORT --cert F --key F --ca F --trust-domain TD
//
// client: does what the rendered Envoy cluster says, read from the rendered config itself (protojson of
// go-control-plane's Bootstrap, the SDS files and PEM files they name under --root): SNI, ALPN, client
// certificate, trusted root and the URI-SAN matchers of the cluster's UpstreamTlsContext; dials the cluster's
// endpoint (or --connect), sends a line, prints the answer as JSON.
//
// forward: the forwarding proxy's listener, read from the rendered config: listens on its socket address, closes
// a connection whose source is outside its filter chain's source_prefix_ranges, and otherwise opens its
// tcp_proxy cluster's connection as the client does and copies plain bytes in, mTLS bytes out.
//
// gateway: Istio's AUTO_PASSTHROUGH as pilot/pkg/networking/core/gateway.go builds it: a connection is passed
// through (bytes untouched, TLS not terminated) only when its ClientHello's SNI is a known
// outbound_.<port>_.<subset>_.<host> AND it offers one of Istio's mTLS ALPNs; anything else is dropped.
//
// sidecar: a destination's inbound side: TLS with its workload certificate, a client certificate required,
// chained to the mesh root, with a URI SAN in the trust domain (Istio's trust-domain check). It answers one
// line with the caller's SPIFFE id. When it negotiates istio-peer-exchange it first writes a metadata-exchange
// frame into the stream, as istio/proxy's metadata exchange filter does: what breaks a plain Envoy client.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// Istio's mTLS ALPN set (pilot/pkg/networking/core/listener.go): what the passthrough chains match.
var istioALPN = []string{"istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"}

// The metadata exchange frame's magic number (istio/proxy src/envoy/tcp/metadata_exchange).
const metadataExchangeMagic = 0x3D230467

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "envoy-standin: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: envoy-standin client|forward|gateway|sidecar ...")
	}
	switch os.Args[1] {
	case "client":
		client(os.Args[2:])
	case "forward":
		forward(os.Args[2:])
	case "gateway":
		gateway(os.Args[2:])
	case "sidecar":
		sidecar(os.Args[2:])
	default:
		die("unknown command %q", os.Args[1])
	}
}

// ---- client -------------------------------------------------------------------------------------

func readYAML(path string, m proto.Message) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return err
	}
	return protojson.Unmarshal(js, m)
}

// secret reads an SDS secret the way Envoy's file subscription does.
func secret(root string, s *tlsv3.SdsSecretConfig) (*tlsv3.Secret, error) {
	p := s.GetSdsConfig().GetPathConfigSource().GetPath()
	var resp discoveryv3.DiscoveryResponse
	if err := readYAML(filepath.Join(root, p), &resp); err != nil {
		return nil, fmt.Errorf("SDS file %s: %w", p, err)
	}
	for _, r := range resp.GetResources() {
		sec := &tlsv3.Secret{}
		if err := r.UnmarshalTo(sec); err == nil && sec.GetName() == s.GetName() {
			return sec, nil
		}
	}
	return nil, fmt.Errorf("SDS file %s has no secret %q", p, s.GetName())
}

func file(root string, ds *corev3.DataSource) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, ds.GetFilename()))
}

type result struct {
	Negotiated string   `json:"negotiatedProtocol"`
	PeerURIs   []string `json:"peerUris"`
	Answer     string   `json:"answer"`
	SNI        string   `json:"sni"`
	ALPN       []string `json:"alpn"`
}

// upstream is what a rendered cluster says about its upstream connection: endpoint and TLS client settings.
type upstream struct {
	endpoint string
	sni      string
	alpn     []string
	config   *tls.Config
	// peerURIs holds the server certificate's URI SANs once a handshake verified them.
	peerURIs *[]string
}

// clusterUpstream reads cluster `name` of the bootstrap: its endpoint, and SNI, ALPN, client certificate, root
// and URI-SAN matchers of its UpstreamTlsContext from the SDS and PEM files under root.
func clusterUpstream(b *bootstrapv3.Bootstrap, root, name string) (*upstream, error) {
	var ctx tlsv3.UpstreamTlsContext
	endpoint := ""
	found := false
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() != name {
			continue
		}
		found = true
		if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&ctx); err != nil {
			return nil, fmt.Errorf("cluster %s: transport socket: %v", c.GetName(), err)
		}
		sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
		endpoint = net.JoinHostPort(sa.GetAddress(), fmt.Sprint(sa.GetPortValue()))
	}
	if !found {
		return nil, fmt.Errorf("no cluster %q", name)
	}
	common := ctx.GetCommonTlsContext()
	if len(common.GetTlsCertificateSdsSecretConfigs()) != 1 {
		return nil, fmt.Errorf("cluster %s: expected one tls_certificate_sds_secret_configs", name)
	}
	certSecret, err := secret(root, common.GetTlsCertificateSdsSecretConfigs()[0])
	if err != nil {
		return nil, err
	}
	chainPEM, err1 := file(root, certSecret.GetTlsCertificate().GetCertificateChain())
	keyPEM, err2 := file(root, certSecret.GetTlsCertificate().GetPrivateKey())
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("certificate files: %v", err)
	}
	pair, err := tls.X509KeyPair(chainPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate: %v", err)
	}
	cvc := common.GetCombinedValidationContext()
	rootSecret, err := secret(root, cvc.GetValidationContextSdsSecretConfig())
	if err != nil {
		return nil, err
	}
	caPEM, err := file(root, rootSecret.GetValidationContext().GetTrustedCa())
	if err != nil {
		return nil, fmt.Errorf("trusted CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("trusted CA holds no certificate")
	}
	matchers := cvc.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
	peerURIs := []string{}
	cfg := &tls.Config{
		ServerName:   ctx.GetSni(),
		NextProtos:   common.GetAlpnProtocols(),
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
		// Envoy verifies the chain against trusted_ca and the SAN matchers, not a host name: so does this.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs = append(certs, c)
			}
			if len(certs) == 0 {
				return errors.New("the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			for _, u := range certs[0].URIs {
				peerURIs = append(peerURIs, u.String())
			}
			for _, m := range matchers {
				if m.GetSanType() != tlsv3.SubjectAltNameMatcher_URI {
					continue
				}
				for _, u := range peerURIs {
					sm := m.GetMatcher()
					if (sm.GetExact() != "" && u == sm.GetExact()) || (sm.GetPrefix() != "" && strings.HasPrefix(u, sm.GetPrefix())) {
						return nil
					}
				}
			}
			return fmt.Errorf("server certificate SANs %v match none of the cluster's match_typed_subject_alt_names", peerURIs)
		},
	}
	return &upstream{endpoint: endpoint, sni: ctx.GetSni(), alpn: common.GetAlpnProtocols(), config: cfg, peerURIs: &peerURIs}, nil
}

// dial opens the cluster's mTLS connection (endpoint, or connect when given) and completes the handshake.
func (u *upstream) dial(connect string) (*tls.Conn, error) {
	endpoint := u.endpoint
	if connect != "" {
		endpoint = connect
	}
	conn, err := net.DialTimeout("tcp", endpoint, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %v", endpoint, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(conn, u.config.Clone())
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s (SNI %s): %v", endpoint, u.sni, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return tc, nil
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	config := fs.String("config", "", "rendered envoy.yaml")
	root := fs.String("root", "/", "directory standing for the VM's /")
	clusterName := fs.String("cluster", "", "cluster to act as")
	connect := fs.String("connect", "", "override the cluster's endpoint")
	send := fs.String("send", "hello", "line to send")
	_ = fs.Parse(args)
	var b bootstrapv3.Bootstrap
	if err := readYAML(*config, &b); err != nil {
		die("config: %v", err)
	}
	up, err := clusterUpstream(&b, *root, *clusterName)
	if err != nil {
		die("%s: %v", *config, err)
	}
	tc, err := up.dial(*connect)
	if err != nil {
		die("%v", err)
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(tc, *send+"\n"); err != nil {
		die("write: %v", err)
	}
	// A plain Envoy passes every byte to the application: so does this client.
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil {
		die("read: %v", err)
	}
	out, _ := json.Marshal(result{Negotiated: tc.ConnectionState().NegotiatedProtocol, PeerURIs: *up.peerURIs, Answer: strings.TrimRight(line, "\n"), SNI: up.sni, ALPN: up.alpn})
	fmt.Println(string(out))
}

// ---- forward ------------------------------------------------------------------------------------

// forward: the forwarding proxy's listener as rendered: it listens on the listener's socket address, admits a
// connection only when its source is in the filter chain's source_prefix_ranges (no chain matches otherwise,
// and Envoy closes the connection before any filter: no upstream connection), then does what the chain's
// tcp_proxy cluster says (mTLS out, as the client above) and copies bytes both ways.
func forward(args []string) {
	fs := flag.NewFlagSet("forward", flag.ExitOnError)
	config := fs.String("config", "", "rendered envoy.yaml")
	root := fs.String("root", "/", "directory standing for the VM's /")
	listenerName := fs.String("listener", "", "listener to act as")
	_ = fs.Parse(args)
	var b bootstrapv3.Bootstrap
	if err := readYAML(*config, &b); err != nil {
		die("config: %v", err)
	}
	var l *listenerv3.Listener
	for _, x := range b.GetStaticResources().GetListeners() {
		if x.GetName() == *listenerName {
			l = x
		}
	}
	if l == nil {
		die("no listener %q in %s", *listenerName, *config)
	}
	if len(l.GetFilterChains()) != 1 || l.GetDefaultFilterChain() != nil {
		die("listener %s: the stand-in takes exactly one filter chain and no default chain", l.GetName())
	}
	chain := l.GetFilterChains()[0]
	var ranges []*net.IPNet
	for _, r := range chain.GetFilterChainMatch().GetSourcePrefixRanges() {
		_, n, err := net.ParseCIDR(fmt.Sprintf("%s/%d", r.GetAddressPrefix(), r.GetPrefixLen().GetValue()))
		if err != nil {
			die("listener %s: source_prefix_ranges: %v", l.GetName(), err)
		}
		ranges = append(ranges, n)
	}
	var proxy tcpproxyv3.TcpProxy
	filters := chain.GetFilters()
	if len(filters) != 1 || filters[0].GetTypedConfig().UnmarshalTo(&proxy) != nil {
		die("listener %s: the stand-in forwards a chain of one tcp_proxy filter only", l.GetName())
	}
	up, err := clusterUpstream(&b, *root, proxy.GetCluster())
	if err != nil {
		die("%s: %v", *config, err)
	}
	sa := l.GetAddress().GetSocketAddress()
	ln, err := net.Listen("tcp", net.JoinHostPort(sa.GetAddress(), fmt.Sprint(sa.GetPortValue())))
	if err != nil {
		die("listen: %v", err)
	}
	fmt.Fprintf(os.Stderr, "forward listening on %s (sources %v) to cluster %s\n", ln.Addr(), ranges, proxy.GetCluster())
	for {
		c, err := ln.Accept()
		if err != nil {
			die("accept: %v", err)
		}
		go forwardOne(c, ranges, up)
	}
}

func forwardOne(c net.Conn, ranges []*net.IPNet, up *upstream) {
	defer c.Close()
	src := c.RemoteAddr().(*net.TCPAddr).IP
	// No ranges match every source, as an empty filter_chain_match does.
	admitted := len(ranges) == 0
	for _, n := range ranges {
		admitted = admitted || n.Contains(src)
	}
	if !admitted {
		fmt.Fprintf(os.Stderr, "forward: refused %s: no filter chain matches its source\n", src)
		return
	}
	tc, err := up.dial("")
	if err != nil {
		fmt.Fprintf(os.Stderr, "forward: %s: %v\n", src, err)
		return
	}
	defer tc.Close()
	fmt.Fprintf(os.Stderr, "forward: %s through %s as SNI %s\n", src, up.endpoint, up.sni)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(tc, c); _ = tc.CloseWrite() }()
	go func() { defer wg.Done(); _, _ = io.Copy(c, tc); closeWrite(c) }()
	wg.Wait()
}

// ---- gateway ------------------------------------------------------------------------------------

type routes []string

func (r *routes) String() string     { return strings.Join(*r, ",") }
func (r *routes) Set(v string) error { *r = append(*r, v); return nil }

// recorder keeps what the TLS parser read, to replay it upstream, and swallows what it would write (the alert
// after the peek aborts the handshake): the client must see only the destination's bytes.
type recorder struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) { return len(p), nil }

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

var errPeeked = errors.New("peeked")

func gateway(args []string) {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	listen := fs.String("listen", "", "address")
	var rs routes
	fs.Var(&rs, "route", "SNI=HOST:PORT (repeatable)")
	_ = fs.Parse(args)
	table := map[string]string{}
	for _, r := range rs {
		k, v, ok := strings.Cut(r, "=")
		if !ok {
			die("route %q is not SNI=HOST:PORT", r)
		}
		table[k] = v
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		die("listen: %v", err)
	}
	fmt.Fprintf(os.Stderr, "gateway listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			die("accept: %v", err)
		}
		go passthrough(c, table)
	}
}

func passthrough(c net.Conn, table map[string]string) {
	defer c.Close()
	rec := &recorder{Conn: c}
	var hello *tls.ClientHelloInfo
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_ = tls.Server(rec, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello = h
		return nil, errPeeked
	}}).Handshake()
	_ = c.SetReadDeadline(time.Time{})
	if hello == nil {
		fmt.Fprintln(os.Stderr, "gateway: dropped: no TLS ClientHello")
		return
	}
	target, known := table[hello.ServerName]
	istio := false
	for _, p := range hello.SupportedProtos {
		for _, a := range istioALPN {
			istio = istio || p == a
		}
	}
	// Both must match, as the filter chain match does (server_names AND application_protocols).
	if !known || !istio {
		fmt.Fprintf(os.Stderr, "gateway: dropped: SNI %q known=%v, ALPN %v istio=%v\n", hello.ServerName, known, hello.SupportedProtos, istio)
		return
	}
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %s: %v\n", target, err)
		return
	}
	defer up.Close()
	if _, err := up.Write(rec.buf.Bytes()); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(up, c); closeWrite(up) }()
	go func() { defer wg.Done(); _, _ = io.Copy(c, up); closeWrite(c) }()
	wg.Wait()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// ---- sidecar ------------------------------------------------------------------------------------

func sidecar(args []string) {
	fs := flag.NewFlagSet("sidecar", flag.ExitOnError)
	listen := fs.String("listen", "", "address")
	certFile := fs.String("cert", "", "workload certificate chain")
	keyFile := fs.String("key", "", "workload key")
	caFile := fs.String("ca", "", "mesh root")
	trustDomain := fs.String("trust-domain", "cluster.local", "trust domain of the callers")
	_ = fs.Parse(args)
	pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		die("certificate: %v", err)
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		die("ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		die("ca holds no certificate")
	}
	prefix := "spiffe://" + *trustDomain + "/"
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		// A sidecar's inbound chain prefers the metadata exchange when the caller offers it.
		NextProtos: []string{"istio-peer-exchange", "istio-h2", "istio-http/1.1", "istio-http/1.0", "istio"},
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			for _, u := range chains[0][0].URIs {
				if strings.HasPrefix(u.String(), prefix) {
					return nil
				}
			}
			return fmt.Errorf("client certificate has no URI SAN in trust domain %s", *trustDomain)
		},
	}
	ln, err := tls.Listen("tcp", *listen, cfg)
	if err != nil {
		die("listen: %v", err)
	}
	fmt.Fprintf(os.Stderr, "sidecar listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			die("accept: %v", err)
		}
		go serve(c.(*tls.Conn))
	}
}

func serve(c *tls.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		fmt.Fprintf(os.Stderr, "sidecar: refused: %v\n", err)
		return
	}
	st := c.ConnectionState()
	caller := ""
	for _, u := range st.PeerCertificates[0].URIs {
		caller = u.String()
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	if st.NegotiatedProtocol == "istio-peer-exchange" {
		// magic, length, then a (here empty) metadata payload: bytes the application never asked for.
		frame := make([]byte, 8)
		binary.BigEndian.PutUint32(frame[0:4], metadataExchangeMagic)
		_, _ = c.Write(frame)
	}
	_, _ = fmt.Fprintf(c, "hello %s, you said %s\n", caller, strings.TrimRight(line, "\n"))
}

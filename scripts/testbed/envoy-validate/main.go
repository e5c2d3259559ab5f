// envoy-validate checks an Envoy v3 bootstrap the way Envoy's own API rules do, without Envoy: no Envoy
// binary can be had on the test bed, but go-control-plane ships Envoy's API protos with their generated
// validation rules (protoc-gen-validate). It is a test-bed part: the test suites run it on every rendered
// configuration, so a field name, a type or a constraint Envoy would refuse fails a test.
//
//	envoy-validate [--root DIR] CONFIG
//
// CONFIG is YAML or JSON. The checks, in order:
//  1. strict protojson into config.bootstrap.v3.Bootstrap (an unknown field or a wrong type fails);
//  2. ValidateAll() on it, then on every google.protobuf.Any inside it, unpacked (ValidateAll does not
//     descend into Any: a TcpProxy's empty stat_prefix is found only this way);
//  3. checks of the kind Envoy makes at load time that no proto rule expresses: every referenced cluster
//     exists, names are unique, a STATIC cluster's endpoints are IP addresses, a filter chain ends in a
//     terminal filter and an HTTP filter chain in the router;
//  4. with --root (the VM's file system as a directory, e.g. a rendered bundle), every file the config
//     names must exist under DIR; SDS files (path_config_source) are read as Envoy's file subscription
//     reads them (a DiscoveryResponse), their Secrets validated and matched by name and kind, and the PEM
//     files they name loaded as Envoy loads them: a chain of certificates, a private key that belongs to the
//     chain's leaf, a trusted CA of one or more certificates.
//
// Exit 0 prints a JSON summary on stdout; exit 1 prints one problem per line on stderr; exit 2 is a usage
// error.
package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// The typed_config types a rendered config may use must be registered, or protojson fails with
	// "unable to resolve type". The ones imported by name above register themselves too.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

type validator interface{ ValidateAll() error }

// checker collects problems and what the config defines and references.
type checker struct {
	root     string
	problems []string
	clusters map[string]bool
	refs     []ref // clusters referenced, with where
	sds      []sdsRef
	files    []fileRef
	// fileNames: the files SDS secrets name, for the summary.
	fileNames []string
}

type ref struct{ name, where string }
type sdsRef struct {
	name, kind, where string
	source            *corev3.PathConfigSource
}
type fileRef struct{ file, where string }

func (c *checker) problem(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	c.problems = append(c.problems, msg)
}

func main() {
	root := flag.String("root", "", "directory standing for the VM's / : files the config names must exist under it")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: envoy-validate [--root DIR] CONFIG")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	summary, problems := validateFile(flag.Arg(0), *root)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "envoy-validate: "+p)
		}
		os.Exit(1)
	}
	out, _ := json.Marshal(summary)
	fmt.Println(string(out))
}

// Summary is what a valid config defines, for tests to assert on.
type Summary struct {
	Listeners []string `json:"listeners"`
	Clusters  []string `json:"clusters"`
	Secrets   []string `json:"secrets"`
	Files     []string `json:"files"`
}

func validateFile(configPath, root string) (*Summary, []string) {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var b bootstrapv3.Bootstrap
	if err := unmarshalYAML(raw, &b); err != nil {
		return nil, []string{fmt.Sprintf("%s: not a valid Bootstrap: %v", configPath, err)}
	}
	c := &checker{root: root, clusters: map[string]bool{}}
	if err := b.ValidateAll(); err != nil {
		c.problem("bootstrap", "%v", err)
	}
	c.walk(b.ProtoReflect(), "bootstrap")
	summary := c.semantic(&b)
	if root != "" {
		summary.Secrets = c.checkFiles()
		summary.Files = uniqueSorted(append(summary.Files, c.fileNames...))
	}
	return summary, c.problems
}

// unmarshalYAML reads YAML or JSON strictly: an unknown field is an error, as it is for Envoy.
func unmarshalYAML(raw []byte, m proto.Message) error {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{}.Unmarshal(js, m)
}

// walk visits every message; an Any is unpacked, validated and walked in turn.
func (c *checker) walk(m protoreflect.Message, where string) {
	switch v := m.Interface().(type) {
	case *anypb.Any:
		inner, err := anypb.UnmarshalNew(v, proto.UnmarshalOptions{})
		if err != nil {
			c.problem(where, "cannot unpack %s: %v", v.GetTypeUrl(), err)
			return
		}
		if val, ok := inner.(validator); ok {
			if err := val.ValidateAll(); err != nil {
				c.problem(where, "%s: %v", v.GetTypeUrl(), err)
			}
		}
		c.walk(inner.ProtoReflect(), where)
		return
	case *tcpproxyv3.TcpProxy:
		if v.GetCluster() != "" {
			c.refs = append(c.refs, ref{v.GetCluster(), where + ".cluster"})
		}
		for _, w := range v.GetWeightedClusters().GetClusters() {
			c.refs = append(c.refs, ref{w.GetName(), where + ".weighted_clusters"})
		}
	case *routev3.RouteAction:
		if v.GetCluster() != "" {
			c.refs = append(c.refs, ref{v.GetCluster(), where + ".cluster"})
		}
		for _, w := range v.GetWeightedClusters().GetClusters() {
			c.refs = append(c.refs, ref{w.GetName(), where + ".weighted_clusters"})
		}
	case *corev3.GrpcService_EnvoyGrpc:
		c.refs = append(c.refs, ref{v.GetClusterName(), where + ".cluster_name"})
	case *hcmv3.HttpConnectionManager:
		if v.GetRds() != nil {
			c.problem(where, "rds needs a management server; a static config must use route_config")
		}
		filters := v.GetHttpFilters()
		if len(filters) == 0 {
			c.problem(where, "http_filters is empty; the last HTTP filter must be envoy.filters.http.router")
		} else if _, ok := unpack(filters[len(filters)-1].GetTypedConfig()).(*routerv3.Router); !ok {
			c.problem(where, "the last HTTP filter %q is not the router (envoy.extensions.filters.http.router.v3.Router)", filters[len(filters)-1].GetName())
		}
	case *listenerv3.FilterChain:
		filters := v.GetFilters()
		if len(filters) == 0 {
			c.problem(where, "a filter chain without network filters")
		} else {
			switch unpack(filters[len(filters)-1].GetTypedConfig()).(type) {
			case *tcpproxyv3.TcpProxy, *hcmv3.HttpConnectionManager:
			default:
				c.problem(where, "the last network filter %q is not terminal (tcp_proxy or http_connection_manager)", filters[len(filters)-1].GetName())
			}
		}
	case *tlsv3.CommonTlsContext:
		for i, s := range v.GetTlsCertificateSdsSecretConfigs() {
			c.sdsRef(s, "tls_certificate", fmt.Sprintf("%s.tls_certificate_sds_secret_configs[%d]", where, i))
		}
		if s := v.GetValidationContextSdsSecretConfig(); s != nil {
			c.sdsRef(s, "validation_context", where+".validation_context_sds_secret_config")
		}
		if s := v.GetCombinedValidationContext().GetValidationContextSdsSecretConfig(); s != nil {
			c.sdsRef(s, "validation_context", where+".combined_validation_context.validation_context_sds_secret_config")
		}
	case *corev3.DataSource:
		if f := v.GetFilename(); f != "" {
			c.files = append(c.files, fileRef{f, where + ".filename"})
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		if fd.Message() == nil || (fd.IsMap() && fd.MapValue().Message() == nil) {
			return true
		}
		name := where + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := val.List()
			for i := 0; i < l.Len(); i++ {
				c.walk(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i))
			}
		case fd.IsMap():
			val.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				c.walk(mv.Message(), fmt.Sprintf("%s[%s]", name, k.String()))
				return true
			})
		default:
			c.walk(val.Message(), name)
		}
		return true
	})
}

func unpack(a *anypb.Any) proto.Message {
	if a == nil {
		return nil
	}
	m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
	if err != nil {
		return nil
	}
	return m
}

func (c *checker) sdsRef(s *tlsv3.SdsSecretConfig, kind, where string) {
	src := s.GetSdsConfig()
	if src == nil {
		c.problem(where, "secret %q has no sds_config: a static config cannot name a secret it does not define", s.GetName())
		return
	}
	p := src.GetPathConfigSource()
	if p == nil {
		if src.GetPath() != "" {
			p = &corev3.PathConfigSource{Path: src.GetPath()}
		} else {
			c.problem(where, "secret %q: only path_config_source is usable without a management server", s.GetName())
			return
		}
	}
	c.sds = append(c.sds, sdsRef{s.GetName(), kind, where, p})
}

// semantic: the load-time checks protoc-gen-validate rules cannot express.
func (c *checker) semantic(b *bootstrapv3.Bootstrap) *Summary {
	s := &Summary{Listeners: []string{}, Clusters: []string{}, Secrets: []string{}, Files: []string{}}
	for i, cl := range b.GetStaticResources().GetClusters() {
		where := fmt.Sprintf("bootstrap.static_resources.clusters[%d]", i)
		if c.clusters[cl.GetName()] {
			c.problem(where, "duplicate cluster name %q", cl.GetName())
		}
		c.clusters[cl.GetName()] = true
		s.Clusters = append(s.Clusters, cl.GetName())
		if cl.GetType() == clusterv3.Cluster_STATIC {
			for j, le := range cl.GetLoadAssignment().GetEndpoints() {
				for k, lb := range le.GetLbEndpoints() {
					addr := lb.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()
					if _, err := netip.ParseAddr(addr); addr != "" && err != nil {
						c.problem(fmt.Sprintf("%s.load_assignment.endpoints[%d].lb_endpoints[%d]", where, j, k),
							"STATIC cluster %q has a non-IP address %q; use type STRICT_DNS for a name", cl.GetName(), addr)
					}
				}
			}
		}
	}
	seenListener := map[string]bool{}
	seenAddr := map[string]string{}
	type boundSocket struct {
		addr string
		port uint32
		name string
	}
	var bound []boundSocket
	for i, l := range b.GetStaticResources().GetListeners() {
		where := fmt.Sprintf("bootstrap.static_resources.listeners[%d]", i)
		if seenListener[l.GetName()] {
			c.problem(where, "duplicate listener name %q", l.GetName())
		}
		seenListener[l.GetName()] = true
		s.Listeners = append(s.Listeners, l.GetName())
		if sa := l.GetAddress().GetSocketAddress(); sa != nil {
			key := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
			if other, dup := seenAddr[key]; dup {
				c.problem(where, "listener %q binds %s, as listener %q does", l.GetName(), key, other)
			}
			// A wildcard address takes the port on every address of its family: another listener on that
			// port fails to bind (EADDRINUSE), e.g. 0.0.0.0:9080 beside 127.0.0.1:9080.
			for _, o := range bound {
				if o.port == sa.GetPortValue() && o.addr != sa.GetAddress() &&
					(wildcardOf(o.addr, sa.GetAddress()) || wildcardOf(sa.GetAddress(), o.addr)) {
					c.problem(where, "listener %q binds %s, which overlaps listener %q on %s port %d", l.GetName(), key, o.name, o.addr, o.port)
				}
			}
			bound = append(bound, boundSocket{sa.GetAddress(), sa.GetPortValue(), l.GetName()})
			seenAddr[key] = l.GetName()
		}
	}
	for _, r := range c.refs {
		if !c.clusters[r.name] {
			c.problem(r.where, "cluster %q is not defined in static_resources.clusters", r.name)
		}
	}
	for _, f := range c.files {
		s.Files = append(s.Files, f.file)
	}
	sort.Strings(s.Files)
	return s
}

// local maps a path on the VM to the directory standing for its root.
func (c *checker) local(p string) string { return filepath.Join(c.root, filepath.FromSlash(p)) }

func (c *checker) exists(p, where, what string) bool {
	if !path.IsAbs(p) {
		c.problem(where, "%s %q is not an absolute path", what, p)
		return false
	}
	if _, err := os.Stat(c.local(p)); err != nil {
		c.problem(where, "%s %q does not exist", what, p)
		return false
	}
	return true
}

// checkFiles: what Envoy reads at load time must be there; SDS files are read as Envoy's file subscription
// reads them.
func (c *checker) checkFiles() []string {
	for _, f := range c.files {
		c.exists(f.file, f.where, "file")
	}
	var secrets []string
	for _, s := range c.sds {
		if wd := s.source.GetWatchedDirectory(); wd != nil {
			if c.exists(wd.GetPath(), s.where+".sds_config.path_config_source.watched_directory", "watched directory") {
				if st, err := os.Stat(c.local(wd.GetPath())); err == nil && !st.IsDir() {
					c.problem(s.where, "watched directory %q is not a directory", wd.GetPath())
				}
			}
		}
		file := s.source.GetPath()
		if !c.exists(file, s.where+".sds_config.path_config_source.path", "SDS file") {
			continue
		}
		raw, err := os.ReadFile(c.local(file))
		if err != nil {
			c.problem(s.where, "%v", err)
			continue
		}
		var resp discoveryv3.DiscoveryResponse
		if err := unmarshalYAML(raw, &resp); err != nil {
			c.problem(s.where, "SDS file %q is not a DiscoveryResponse: %v", file, err)
			continue
		}
		found := false
		for i, res := range resp.GetResources() {
			rwhere := fmt.Sprintf("%s[%d]", file, i)
			sec := &tlsv3.Secret{}
			if err := res.UnmarshalTo(sec); err != nil {
				c.problem(rwhere, "not a Secret (%s): %v", res.GetTypeUrl(), err)
				continue
			}
			if err := sec.ValidateAll(); err != nil {
				c.problem(rwhere, "%v", err)
			}
			if sec.GetName() != s.name {
				continue
			}
			found = true
			secrets = append(secrets, sec.GetName())
			inner := &checker{root: c.root, clusters: c.clusters}
			inner.walk(sec.ProtoReflect(), rwhere)
			for _, f := range inner.files {
				if c.exists(f.file, f.where, "file") {
					c.fileNames = append(c.fileNames, f.file)
				}
			}
			c.problems = append(c.problems, inner.problems...)
			c.checkPem(sec, rwhere)
			switch s.kind {
			case "tls_certificate":
				if sec.GetTlsCertificate() == nil {
					c.problem(rwhere, "secret %q is used as a tls_certificate but holds %s", sec.GetName(), kindOf(sec))
				}
			case "validation_context":
				if sec.GetValidationContext() == nil {
					c.problem(rwhere, "secret %q is used as a validation_context but holds %s", sec.GetName(), kindOf(sec))
				}
			}
		}
		if !found {
			c.problem(s.where, "SDS file %q has no secret named %q", file, s.name)
		}
	}
	return uniqueSorted(secrets)
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// checkPem loads a Secret's PEM files as Envoy does at load time.
func (c *checker) checkPem(sec *tlsv3.Secret, where string) {
	read := func(ds *corev3.DataSource) []byte {
		if f := ds.GetFilename(); f != "" {
			raw, err := os.ReadFile(c.local(f))
			if err != nil {
				return nil
			}
			return raw
		}
		if s := ds.GetInlineString(); s != "" {
			return []byte(s)
		}
		return ds.GetInlineBytes()
	}
	if tc := sec.GetTlsCertificate(); tc != nil {
		certs, err := certificates(read(tc.GetCertificateChain()))
		if err != nil {
			c.problem(where+".tls_certificate.certificate_chain", "%v", err)
			return
		}
		key, err := privateKey(read(tc.GetPrivateKey()))
		if err != nil {
			c.problem(where+".tls_certificate.private_key", "%v", err)
			return
		}
		pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(certs[0].PublicKey) {
			c.problem(where+".tls_certificate", "the private key does not belong to the chain's first certificate")
		}
	}
	if vc := sec.GetValidationContext(); vc != nil && vc.GetTrustedCa() != nil {
		if _, err := certificates(read(vc.GetTrustedCa())); err != nil {
			c.problem(where+".validation_context.trusted_ca", "%v", err)
		}
	}
}

func certificates(raw []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := bytes.TrimSpace(raw)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("not PEM certificates")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM %q block where a CERTIFICATE was expected", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, cert)
		rest = bytes.TrimSpace(rest)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}

func privateKey(raw []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("not a PEM private key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("a PEM %q block where a private key was expected", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type")
	}
	return signer, nil
}

func kindOf(s *tlsv3.Secret) string {
	switch {
	case s.GetTlsCertificate() != nil:
		return "a tls_certificate"
	case s.GetValidationContext() != nil:
		return "a validation_context"
	default:
		return "another kind"
	}
}

// wildcardOf says whether wildcard is the any-address of other's family (0.0.0.0 for IPv4, :: for IPv6).
func wildcardOf(wildcard, other string) bool {
	ip, err := netip.ParseAddr(other)
	if err != nil {
		return false
	}
	if ip.Unmap().Is4() {
		return wildcard == "0.0.0.0"
	}
	return wildcard == "::"
}

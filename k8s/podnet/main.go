// cascade-podnet: pod networking for Cascade Lab's offline kind nodes, in place of
// kindnetd (whose image and Go module are not to be had offline). One instance per node
// (a DaemonSet on the host network, k8s/kind-node/rootfs/kind/manifests/default-cni.yaml):
//   - writes this node's CNI configuration (ptp + host-local over the node's podCIDR),
//     which is what makes the kubelet report the node's network ready;
//   - routes every other node's podCIDR to that node's InternalIP (all nodes share one
//     Docker network, so one hop reaches each);
//   - enforces NetworkPolicy, ingress and egress, with iptables for the pods on this
//     node (the kernel here lacks nft's queue statement, which kube-network-policies
//     needs).
//
// It acts on informer events (debounced), so a new pod is routed and allowed within
// milliseconds of the API server knowing its IP.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	// Routes this agent owns carry this protocol number, so stale ones can be found.
	routeProto = "77"
	chain      = "CASCADE-NETPOL"
	// Egress is checked first, in a chain of its own: a packet its source's policies let
	// out must still pass its destination's (a RETURN in one chain would skip the rest).
	egressChain = "CASCADE-NETPOL-EGRESS"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	nodeName := os.Getenv("NODE_NAME")
	cniPath := envOr("CNI_CONFIG", "/etc/cni/net.d/10-cascade-podnet.conflist")
	if nodeName == "" {
		log.Fatal("NODE_NAME is not set (the DaemonSet passes spec.nodeName)")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("in-cluster configuration: %v", err)
	}
	// kind sets this (see the manifest): the API server by the control plane's name, not
	// through the kubernetes Service, whose rules kube-proxy may not have written yet.
	if endpoint := os.Getenv("CONTROL_PLANE_ENDPOINT"); endpoint != "" {
		cfg.Host = "https://" + endpoint
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	nodes := factory.Core().V1().Nodes()
	pods := factory.Core().V1().Pods()
	namespaces := factory.Core().V1().Namespaces()
	policies := factory.Networking().V1().NetworkPolicies()
	poke := make(chan struct{}, 1)
	wake := func() {
		select {
		case poke <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { wake() },
		UpdateFunc: func(any, any) { wake() },
		DeleteFunc: func(any) { wake() },
	}
	for _, inf := range []cache.SharedIndexInformer{nodes.Informer(), pods.Informer(), namespaces.Informer(), policies.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			log.Fatalf("event handler: %v", err)
		}
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			log.Fatalf("cache of %v did not sync", typ)
		}
	}
	ipt := iptablesFlavour()
	log.Printf("node %s, CNI config %s, %s", nodeName, cniPath, ipt)

	a := agent{node: nodeName, cniPath: cniPath, iptables: ipt}
	tick := time.NewTicker(30 * time.Second) // repairs what someone else changed
	defer tick.Stop()
	for {
		allNodes, _ := nodes.Lister().List(labels.Everything())
		allPods, _ := pods.Lister().List(labels.Everything())
		allNamespaces, _ := namespaces.Lister().List(labels.Everything())
		allPolicies, _ := policies.Lister().List(labels.Everything())
		if err := a.syncNode(allNodes); err != nil {
			log.Printf("node sync: %v", err)
		}
		if err := a.syncPolicies(allPods, allNamespaces, allPolicies); err != nil {
			log.Printf("policy sync: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-poke:
			// Coalesce a burst of events (a rollout) into one sync.
			time.Sleep(50 * time.Millisecond)
		case <-tick.C:
			a.reload = true
		}
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

type agent struct {
	node      string
	cniPath   string
	iptables  string
	lastCNI   string
	lastRules string
	// reload: load the rules even when unchanged (someone may have flushed them).
	reload bool
}

// --- CNI configuration and routes --------------------------------------------------

func (a *agent) syncNode(nodes []*corev1.Node) error {
	want := map[string]string{} // podCIDR -> next hop
	for _, n := range nodes {
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		cidrs = ipv4Only(cidrs)
		if n.Name == a.node {
			if len(cidrs) > 0 {
				if err := a.writeCNI(cidrs[0]); err != nil {
					return err
				}
			}
			continue
		}
		ip := internalIP(n)
		if ip == "" {
			continue
		}
		for _, c := range cidrs {
			want[c] = ip
		}
	}
	out, err := run("ip", "-4", "route", "show", "proto", routeProto)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "via" {
			have[f[0]] = f[2]
		}
	}
	for cidr, via := range want {
		if have[cidr] == via {
			continue
		}
		if _, err := run("ip", "-4", "route", "replace", cidr, "via", via, "proto", routeProto); err != nil {
			return err
		}
		log.Printf("route %s via %s", cidr, via)
	}
	for cidr := range have {
		if _, ok := want[cidr]; !ok {
			if _, err := run("ip", "-4", "route", "del", cidr, "proto", routeProto); err != nil {
				return err
			}
			log.Printf("route %s removed", cidr)
		}
	}
	return nil
}

func ipv4Only(cidrs []string) []string {
	var out []string
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
			out = append(out, c)
		}
	}
	return out
}

func internalIP(n *corev1.Node) string {
	for _, addr := range n.Status.Addresses {
		if addr.Type == corev1.NodeInternalIP {
			if ip := net.ParseIP(addr.Address); ip != nil && ip.To4() != nil {
				return addr.Address
			}
		}
	}
	return ""
}

// writeCNI writes the node's CNI configuration (atomically: the kubelet and containerd
// read the directory at any moment) when it changed.
func (a *agent) writeCNI(podCIDR string) error {
	type ipamRange struct {
		Subnet string `json:"subnet"`
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "cascade-podnet",
		"plugins": []any{
			map[string]any{
				"type": "ptp",
				// Pods talk to each other and to the nodes by their own addresses;
				// nothing leaves the Docker network (offline), so no masquerading.
				"ipMasq": false,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]ipamRange{{{Subnet: podCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	text, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if string(text) == a.lastCNI {
		return nil
	}
	if old, err := os.ReadFile(a.cniPath); err == nil && bytes.Equal(old, text) {
		a.lastCNI = string(text)
		return nil
	}
	tmp := filepath.Join(filepath.Dir(a.cniPath), "."+filepath.Base(a.cniPath)+".tmp")
	if err := os.WriteFile(tmp, text, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, a.cniPath); err != nil {
		return err
	}
	a.lastCNI = string(text)
	log.Printf("CNI configuration for pod range %s written to %s", podCIDR, a.cniPath)
	return nil
}

// --- NetworkPolicy (ingress) --------------------------------------------------------

// syncPolicies renders the rules for this node's pods and loads them when they changed.
// The chain is entered from FORWARD: pod-to-pod traffic, on one node or across nodes,
// is forwarded by the node (ptp: one veth per pod, no bridge). The node's own traffic to
// its pods (kubelet probes, port-forward) does not pass FORWARD and is never filtered.
func (a *agent) syncPolicies(pods []*corev1.Pod, namespaces []*corev1.Namespace, policies []*networkingv1.NetworkPolicy) error {
	rules := renderRules(a.node, pods, namespaces, policies)
	changed := rules != a.lastRules
	if changed || a.reload {
		a.reload = false
		restore := "*filter\n:" + chain + " - [0:0]\n:" + egressChain + " - [0:0]\n" + rules + "COMMIT\n"
		cmd := exec.Command(a.iptables+"-restore", "--noflush", "-w", "5")
		cmd.Stdin = strings.NewReader(restore)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s-restore: %v: %s", a.iptables, err, out)
		}
	}
	if err := a.firstInForward(); err != nil {
		return err
	}
	if changed {
		a.lastRules = rules
		log.Printf("network policy rules loaded (%d rules)", strings.Count(rules, "\n"))
	}
	return nil
}

// firstInForward keeps the jump to our chain the first rule of FORWARD. kube-proxy puts
// its own jumps first when it starts (after us, on a new node), and its KUBE-FORWARD
// accepts every packet it marked for masquerading: a node port's traffic to a pod would
// never reach the policies. Our chain lets established connections through first, so
// it may go before everything.
func (a *agent) firstInForward() error {
	out, err := run(a.iptables, "-w", "5", "-S", "FORWARD")
	if err != nil {
		return err
	}
	jump := "-A FORWARD -j " + chain
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "-A FORWARD") {
			if line == jump {
				return nil
			}
			break
		}
	}
	for {
		if _, err := run(a.iptables, "-w", "5", "-D", "FORWARD", "-j", chain); err != nil {
			break
		}
	}
	if _, err := run(a.iptables, "-w", "5", "-I", "FORWARD", "1", "-j", chain); err != nil {
		return err
	}
	log.Printf("the jump to %s is the first rule of FORWARD again", chain)
	return nil
}

type peer struct {
	source string // "" = any (the destination, for egress)
	proto  string // "" = any
	port   string // "" = any; "80" or "8000:8080"
}

func renderRules(node string, pods []*corev1.Pod, namespaces []*corev1.Namespace, policies []*networkingv1.NetworkPolicy) string {
	nsLabels := map[string]labels.Set{}
	for _, ns := range namespaces {
		nsLabels[ns.Name] = labels.Set(ns.Labels)
	}
	var b strings.Builder
	b.WriteString("-A " + chain + " -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n")
	b.WriteString("-A " + chain + " -j " + egressChain + "\n")
	local := podsWithIP(pods)
	sort.Slice(local, func(i, j int) bool { return local[i].Status.PodIP < local[j].Status.PodIP })
	for _, pod := range local {
		if pod.Spec.NodeName != node {
			continue
		}
		// Egress first: what the pod may send, to whom and on which ports.
		if allowed := allowedPeers(pod, networkingv1.PolicyTypeEgress, pods, nsLabels, policies); allowed != nil {
			writeRules(&b, egressChain, "-s", pod, allowed)
		}
		// Ingress: who may connect to the pod, on which of its ports.
		if allowed := allowedPeers(pod, networkingv1.PolicyTypeIngress, pods, nsLabels, policies); allowed != nil {
			writeRules(&b, chain, "-d", pod, allowed)
		}
	}
	return b.String()
}

// allowedPeers: the peers and ports the policies of `kind` selecting `pod` allow (the
// sources for ingress, the destinations for egress), or nil when none selects it (the
// pod is not isolated in that direction). Named ports are the destination's: the pod
// itself for ingress; for egress not known for any destination, so they allow nothing
// (denying more, never less, than asked).
func allowedPeers(pod *corev1.Pod, kind networkingv1.PolicyType, pods []*corev1.Pod, nsLabels map[string]labels.Set, policies []*networkingv1.NetworkPolicy) map[peer]bool {
	var allowed map[peer]bool
	for _, pol := range policies {
		if pol.Namespace != pod.Namespace || !appliesTo(pol, kind) || !selects(&pol.Spec.PodSelector, pod.Labels) {
			continue
		}
		if allowed == nil {
			allowed = map[peer]bool{}
		}
		if kind == networkingv1.PolicyTypeEgress {
			for _, rule := range pol.Spec.Egress {
				allow(allowed, rule.To, rule.Ports, nil, pol.Namespace, pods, nsLabels)
			}
		} else {
			for _, rule := range pol.Spec.Ingress {
				allow(allowed, rule.From, rule.Ports, pod, pol.Namespace, pods, nsLabels)
			}
		}
	}
	return allowed
}

// allow adds one rule's peers and ports to `allowed`. Named ports are resolved against
// `portsPod` (the destination: the pod itself for ingress); nil resolves none.
func allow(allowed map[peer]bool, peers []networkingv1.NetworkPolicyPeer, rulePorts []networkingv1.NetworkPolicyPort, portsPod *corev1.Pod, ns string, pods []*corev1.Pod, nsLabels map[string]labels.Set) {
	others := []string{""}
	if len(peers) > 0 {
		others = peerIPs(peers, ns, pods, nsLabels)
	}
	ports := []peer{{}}
	if len(rulePorts) > 0 {
		ports = portsOf(rulePorts, portsPod)
	}
	for _, o := range others {
		for _, p := range ports {
			allowed[peer{source: o, proto: p.proto, port: p.port}] = true
		}
	}
}

// writeRules: the allowed peers of `pod` in `chainName` (`side` is "-d" for ingress,
// the pod as destination, "-s" for egress), then a refusal of everything else: at once
// rather than left to time out, so the client learns within a round trip that it may
// not connect.
func writeRules(b *strings.Builder, chainName, side string, pod *corev1.Pod, allowed map[peer]bool) {
	other := map[string]string{"-d": "-s", "-s": "-d"}[side]
	self := " " + side + " " + pod.Status.PodIP + "/32"
	keys := make([]peer, 0, len(allowed))
	for p := range allowed {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool {
		return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j])
	})
	comment := fmt.Sprintf(" -m comment --comment %q", pod.Namespace+"/"+pod.Name)
	for _, p := range keys {
		line := "-A " + chainName + self
		if p.source != "" {
			line += " " + other + " " + p.source
		}
		if p.proto != "" {
			line += " -p " + p.proto
			if p.port != "" {
				line += " -m " + p.proto + " --dport " + p.port
			}
		}
		b.WriteString(line + comment + " -j RETURN\n")
	}
	b.WriteString("-A " + chainName + self + " -p tcp" + comment + " -j REJECT --reject-with tcp-reset\n")
	b.WriteString("-A " + chainName + self + comment + " -j REJECT --reject-with icmp-port-unreachable\n")
}

func podsWithIP(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Spec.HostNetwork || p.Status.PodIP == "" || p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodRunning {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if ip := net.ParseIP(p.Status.PodIP); ip == nil || ip.To4() == nil {
			continue
		}
		out = append(out, p)
	}
	return out
}

// appliesTo: policyTypes as the API defaults them when empty (Ingress always, Egress
// when the policy has egress rules).
func appliesTo(pol *networkingv1.NetworkPolicy, kind networkingv1.PolicyType) bool {
	if len(pol.Spec.PolicyTypes) == 0 {
		return kind == networkingv1.PolicyTypeIngress || len(pol.Spec.Egress) > 0
	}
	for _, t := range pol.Spec.PolicyTypes {
		if t == kind {
			return true
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false // an invalid selector selects nothing
	}
	return s.Matches(labels.Set(set))
}

// peerIPs: the sources one rule's `from` allows, as /32s of pods and CIDRs of ipBlocks.
// An ipBlock's `except` is honoured by leaving the block out (denying more, never
// less, than the policy says), since one iptables rule cannot say "this but not that".
func peerIPs(from []networkingv1.NetworkPolicyPeer, ns string, pods []*corev1.Pod, nsLabels map[string]labels.Set) []string {
	var out []string
	for _, p := range from {
		if p.IPBlock != nil {
			if len(p.IPBlock.Except) == 0 {
				if _, cidr, err := net.ParseCIDR(p.IPBlock.CIDR); err == nil && cidr.IP.To4() != nil {
					out = append(out, cidr.String())
				}
			}
			continue
		}
		for _, pod := range podsWithIP(pods) {
			inNamespace := pod.Namespace == ns
			if p.NamespaceSelector != nil {
				inNamespace = selects(p.NamespaceSelector, nsLabels[pod.Namespace])
			}
			if !inNamespace {
				continue
			}
			if p.PodSelector != nil && !selects(p.PodSelector, pod.Labels) {
				continue
			}
			out = append(out, pod.Status.PodIP+"/32")
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// portsOf: a rule's ports, named ports resolved against the destination pod's
// containers (a name the pod does not have, or no pod, allows nothing).
func portsOf(ports []networkingv1.NetworkPolicyPort, pod *corev1.Pod) []peer {
	var out []peer
	for _, p := range ports {
		proto := "tcp"
		if p.Protocol != nil {
			proto = strings.ToLower(string(*p.Protocol))
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			continue
		}
		switch {
		case p.Port == nil:
			out = append(out, peer{proto: proto})
		case p.Port.Type == 0: // an int
			port := fmt.Sprint(p.Port.IntVal)
			if p.EndPort != nil {
				port += ":" + fmt.Sprint(*p.EndPort)
			}
			out = append(out, peer{proto: proto, port: port})
		case pod != nil:
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == p.Port.StrVal && strings.EqualFold(string(cp.Protocol), proto) {
						out = append(out, peer{proto: proto, port: fmt.Sprint(cp.ContainerPort)})
					}
				}
			}
		}
	}
	return out
}

// --- commands -----------------------------------------------------------------------

// iptablesFlavour: the backend kube-proxy and the node's entrypoint use, found by which
// one holds rules already (the same image carries both).
func iptablesFlavour() string {
	count := func(bin string) int {
		out, err := run(bin+"-save", "-t", "nat")
		if err != nil {
			return -1
		}
		return strings.Count(out, "\n-A ")
	}
	if count("iptables-legacy") > count("iptables-nft") {
		return "iptables-legacy"
	}
	return "iptables-nft"
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// cnidriver runs a network configuration list the way a container runtime does, through
// the real CNI library (libcni, from Debian's golang-github-appc-cni-dev): netscript's
// tests use it to chain netscript after the reference plugins.
//
//	cnidriver add|check|del CONFLIST CONTAINERID NETNS IFNAME
//
// Plugins are looked up in CNI_PATH (':'-separated); results are cached under
// CNI_CACHE_DIR. add prints the final result as JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: cnidriver add|check|del CONFLIST CONTAINERID NETNS IFNAME")
		os.Exit(2)
	}
	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "conflist:", err)
		os.Exit(2)
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(os.Getenv("CNI_PATH"), ":"), os.Getenv("CNI_CACHE_DIR"), nil)
	rt := &libcni.RuntimeConf{ContainerID: os.Args[3], NetNS: os.Args[4], IfName: os.Args[5]}
	ctx := context.Background()
	switch os.Args[1] {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ADD:", err)
			os.Exit(1)
		}
		out, _ := json.Marshal(result)
		fmt.Println(string(out))
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fmt.Fprintln(os.Stderr, "CHECK:", err)
			os.Exit(1)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fmt.Fprintln(os.Stderr, "DEL:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

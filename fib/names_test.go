package fib

import (
	"errors"
	"strings"
	"testing"
)

// Two long VRF names whose shortened device names meet, as found by a
// search over customerNNNNNNN: CheckDeviceNames reports the pair for both
// kinds of device, and passes names that stay apart.
func TestCheckDeviceNames(t *testing.T) {
	a, b := "customer0000869", "customer0001026"
	for _, dev := range []func(string) string{TUNName, VRFDevice} {
		if dev(a) != dev(b) {
			t.Fatalf("the example no longer collides: %s %s", dev(a), dev(b))
		}
		err := CheckDeviceNames([]string{"red", b, "blue", a}, dev)
		var clash *DeviceClash
		if !errors.As(err, &clash) || clash.VRFs != [2]string{a, b} || clash.Device != dev(a) {
			t.Fatalf("clash of %s and %s on %s not reported: %v", a, b, dev(a), err)
		}
		if !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
			t.Fatalf("error does not name both VRFs: %v", err)
		}
		if err := CheckDeviceNames([]string{"red", "blue", a, "customer0000870"}, dev); err != nil {
			t.Fatalf("distinct names refused: %v", err)
		}
	}
}

// TestAttachmentTUNFollowsVRFDevice: an attachment TUN's name is its VRF
// device's with another prefix of the same length, so two VRFs share one
// exactly when they share a VRF device (which validation refuses).
func TestAttachmentTUNFollowsVRFDevice(t *testing.T) {
	for _, vrf := range []string{"red", "abcdefghijk", "abcdefghijkl", "customer0000869", "customer0001026"} {
		got, dev := AttachmentTUN(vrf), VRFDevice(vrf)
		if len(got) > maxIfName || got != "pga-"+strings.TrimPrefix(dev, "vrf-") {
			t.Errorf("AttachmentTUN(%q) = %q, VRF device %q", vrf, got, dev)
		}
	}
}

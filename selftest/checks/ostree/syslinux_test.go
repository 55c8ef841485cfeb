package ostree

import "testing"

// Shapes ostree's syslinux writer produces (src/libostree/
// ostree-bootloader-syslinux.c in ostreedev/ostree): titles with spaces as
// labels, tab-indented KERNEL/INITRD/APPEND, DEFAULT before the first
// ostree label, or no DEFAULT at all.
func TestSyslinuxDefault(t *testing.T) {
	for _, tc := range []struct {
		cfg, want string
		ok        bool
	}{
		{"PROMPT 0\nDEFAULT Debian 12 (ostree:0)\nLABEL Debian 12 (ostree:0)\n\tKERNEL /boot/ostree/d-1/vmlinuz\n\tAPPEND root=/dev/sda1 ostree=/ostree/boot.1/debian/1/0\nLABEL Debian 12 (ostree:1)\n\tKERNEL /boot/ostree/d-2/vmlinuz\n\tAPPEND ostree=/ostree/boot.1/debian/2/0\n", "/ostree/boot.1/debian/1/0", true},
		{"LABEL b (ostree:0)\n\tAPPEND ostree=/ostree/boot.0/x/b/0\nLABEL a\n\tAPPEND ostree=/ostree/boot.0/x/a/0\n", "/ostree/boot.0/x/b/0", true},
		{"DEFAULT rescue\nLABEL rescue\n\tKERNEL /vmlinuz\n\tAPPEND single\nLABEL t (ostree:0)\n\tAPPEND ostree=/ostree/boot.0/x/b/0\n", "", false},
	} {
		got, ok := syslinuxDefault(tc.cfg)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.cfg, got, ok, tc.want, tc.ok)
		}
	}
}

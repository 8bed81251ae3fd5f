package aiofs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pseudo-filesystems whose magic numbers golang.org/x/sys/unix does not
// name (include/uapi/linux/magic.h).
const (
	configfsMagic = 0x62656570
	fusectlMagic  = 0x65735543
)

// onPseudoFS reports whether f, described by fi, lives on a file system
// whose files change without their size or times changing (procfs, sysfs
// and the like), so that nothing of them may be cached. Those all have
// anonymous device numbers (major 0); a file on a block device needs no
// fstatfs, which spares a system call per open on most disks.
func onPseudoFS(f *os.File, fi os.FileInfo) bool {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && unix.Major(st.Dev) != 0 {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return true // unknown: leave it to the OS
	}
	switch uint32(st.Type) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC,
		unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC, configfsMagic,
		unix.EFIVARFS_MAGIC, unix.BPF_FS_MAGIC, unix.PSTOREFS_MAGIC, unix.SELINUX_MAGIC,
		unix.SMACK_MAGIC, unix.BINFMTFS_MAGIC, unix.NSFS_MAGIC, unix.RDTGROUP_SUPER_MAGIC,
		unix.OPENPROM_SUPER_MAGIC, unix.USBDEVICE_SUPER_MAGIC, fusectlMagic:
		return true
	}
	return false
}

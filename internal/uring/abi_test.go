//go:build linux

package uring

import (
	"testing"
	"unsafe"
)

func TestUringLayout(t *testing.T) {
	sizes := []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(params{}), 120},
		{"io_sqring_offsets", unsafe.Sizeof(sqRingOffsets{}), 40},
		{"io_cqring_offsets", unsafe.Sizeof(cqRingOffsets{}), 40},
		{"io_uring_sqe", unsafe.Sizeof(sqEntry{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(cqEntry{}), 16},
		{"io_uring_probe_op", unsafe.Sizeof(probeOp{}), 8},
		{"io_uring_probe", unsafe.Offsetof(probe{}.ops), 16},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("sizeof(%s) = %d, want %d", s.name, s.got, s.want)
		}
	}
	var p params
	var sqe sqEntry
	var cqe cqEntry
	offsets := []struct {
		name      string
		got, want uintptr
	}{
		{"params.features", unsafe.Offsetof(p.features), 20},
		{"params.wq_fd", unsafe.Offsetof(p.wqFd), 24},
		{"params.sq_off", unsafe.Offsetof(p.sqOff), 40},
		{"params.cq_off", unsafe.Offsetof(p.cqOff), 80},
		{"sq_off.flags", unsafe.Offsetof(p.sqOff.flags), 16},
		{"sq_off.array", unsafe.Offsetof(p.sqOff.array), 24},
		{"sq_off.user_addr", unsafe.Offsetof(p.sqOff.userAddr), 32},
		{"cq_off.overflow", unsafe.Offsetof(p.cqOff.overflow), 16},
		{"cq_off.cqes", unsafe.Offsetof(p.cqOff.cqes), 20},
		{"cq_off.user_addr", unsafe.Offsetof(p.cqOff.userAddr), 32},
		{"sqe.fd", unsafe.Offsetof(sqe.fd), 4},
		{"sqe.off", unsafe.Offsetof(sqe.off), 8},
		{"sqe.addr", unsafe.Offsetof(sqe.addr), 16},
		{"sqe.len", unsafe.Offsetof(sqe.len), 24},
		{"sqe.rw_flags", unsafe.Offsetof(sqe.opFlags), 28},
		{"sqe.user_data", unsafe.Offsetof(sqe.userData), 32},
		{"sqe.buf_index", unsafe.Offsetof(sqe.bufIndex), 40},
		{"sqe.splice_fd_in", unsafe.Offsetof(sqe.spliceFdIn), 44},
		{"sqe.addr3", unsafe.Offsetof(sqe.addr3), 48},
		{"cqe.res", unsafe.Offsetof(cqe.res), 8},
		{"cqe.flags", unsafe.Offsetof(cqe.flags), 12},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("offsetof(%s) = %d, want %d", o.name, o.got, o.want)
		}
	}
}

package kqaio

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestFreeBSDLayout checks, on every 64-bit platform, the Go mirrors of the
// FreeBSD kernel structures (layout.go) against offsets and sizes
// transcribed from FreeBSD's LP64 headers: struct aiocb (<sys/aio.h>),
// struct sigevent (<sys/signal.h>), struct kevent (<sys/event.h>, FreeBSD
// 12 and later) and struct iovec (<sys/uio.h>). layout_freebsd.go asserts
// the same at compile time for GOOS=freebsd; this test keeps a cross build
// from being the only place a moved field shows.
func TestFreeBSDLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the mirrors describe FreeBSD's LP64 ports")
	}
	type field struct {
		c, goName string
		off, size uintptr
	}
	table := []struct {
		typ    reflect.Type
		c      string
		size   uintptr
		fields []field
	}{
		{reflect.TypeFor[aiocb](), "struct aiocb", 160, []field{
			{"aio_fildes", "Fildes", 0, 4},
			{"aio_offset", "Offset", 8, 8},
			{"aio_buf", "Buf", 16, 8},
			{"aio_nbytes", "Nbytes", 24, 8},
			{"aio_lio_opcode", "LioOpcode", 48, 4},
			{"aio_reqprio", "Reqprio", 52, 4},
			{"_aiocb_private.status", "Status", 56, 8},
			{"_aiocb_private.error", "Error", 64, 8},
			{"_aiocb_private.kernelinfo", "Kinfo", 72, 8},
			{"aio_sigevent", "Sigevent", 80, 80},
		}},
		{reflect.TypeFor[sigevent](), "struct sigevent", 80, []field{
			{"sigev_notify", "Notify", 0, 4},
			{"sigev_signo", "Signo", 4, 4},
			{"sigev_value", "Value", 8, 8},
			{"sigev_notify_kevent_flags", "KeventFlags", 16, 2},
		}},
		{reflect.TypeFor[kevent](), "struct kevent", 64, []field{
			{"ident", "Ident", 0, 8},
			{"filter", "Filter", 8, 2},
			{"flags", "Flags", 10, 2},
			{"fflags", "Fflags", 12, 4},
			{"data", "Data", 16, 8},
			{"udata", "Udata", 24, 8},
			{"ext", "Ext", 32, 32},
		}},
		{reflect.TypeFor[iovec](), "struct iovec", 16, []field{
			{"iov_base", "Base", 0, 8},
			{"iov_len", "Len", 8, 8},
		}},
	}
	for _, s := range table {
		if got := s.typ.Size(); got != s.size {
			t.Errorf("%s: Go size %d, header size %d", s.c, got, s.size)
		}
		if s.typ.Align() != 8 {
			t.Errorf("%s: Go alignment %d, want 8", s.c, s.typ.Align())
		}
		for _, f := range s.fields {
			sf, ok := s.typ.FieldByName(f.goName)
			if !ok {
				t.Errorf("%s.%s: no Go field %s", s.c, f.c, f.goName)
				continue
			}
			if sf.Offset != f.off || sf.Type.Size() != f.size {
				t.Errorf("%s.%s: Go offset %d size %d, header offset %d size %d",
					s.c, f.c, sf.Offset, sf.Type.Size(), f.off, f.size)
			}
		}
	}
	// The kernel reads sigev_notify_kevent_flags at aiocb offset 96.
	var cb aiocb
	if off := unsafe.Offsetof(cb.Sigevent) + unsafe.Offsetof(cb.Sigevent.KeventFlags); off != 96 {
		t.Errorf("aio_sigevent.sigev_notify_kevent_flags at %d, header 96", off)
	}
	// No Go pointers: the kernel writes these, and they live where the
	// garbage collector does not look.
	for _, s := range table {
		var walk func(reflect.Type)
		walk = func(typ reflect.Type) {
			switch typ.Kind() {
			case reflect.Pointer, reflect.UnsafePointer, reflect.Slice, reflect.String,
				reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
				t.Errorf("%s holds a Go pointer type %s", s.c, typ)
			case reflect.Struct:
				for i := range typ.NumField() {
					walk(typ.Field(i).Type)
				}
			case reflect.Array:
				walk(typ.Elem())
			}
		}
		walk(s.typ)
	}
}

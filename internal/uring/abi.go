//go:build linux

package uring

// Kernel ABI, from include/uapi/linux/io_uring.h.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	featSingleMmap = 1 << 0

	enterGetevents = 1 << 0

	sqCQOverflow = 1 << 1 // in the SQ ring's flags

	opNop    = 0
	opReadv  = 1
	opWritev = 2
	opFsync  = 3
	opRead   = 22 // since 5.6
	opWrite  = 23 // since 5.6

	registerEventfd        = 4  // since 5.2
	registerProbe          = 8  // since 5.6
	registerIOWQMaxWorkers = 19 // since 5.15

	probeOpSupported = 1 << 0 // io_uring_probe_op.flags
)

// sqRingOffsets is struct io_sqring_offsets.
type sqRingOffsets struct {
	head        uint32
	tail        uint32
	ringMask    uint32
	ringEntries uint32
	flags       uint32
	dropped     uint32
	array       uint32
	resv1       uint32
	userAddr    uint64
}

// cqRingOffsets is struct io_cqring_offsets.
type cqRingOffsets struct {
	head        uint32
	tail        uint32
	ringMask    uint32
	ringEntries uint32
	overflow    uint32
	cqes        uint32
	flags       uint32
	resv1       uint32
	userAddr    uint64
}

// params is struct io_uring_params, 120 bytes.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqRingOffsets
	cqOff        cqRingOffsets
}

// sqEntry is struct io_uring_sqe, 64 bytes, with each union reduced to the
// member this package uses.
type sqEntry struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // rw_flags, fsync_flags, ...
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// cqEntry is struct io_uring_cqe, 16 bytes (no IORING_SETUP_CQE32).
type cqEntry struct {
	userData uint64
	res      int32
	flags    uint32
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// probe is struct io_uring_probe with room for every opcode.
type probe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]probeOp
}

func (p *probe) supports(op uint8) bool {
	return op <= p.lastOp && p.ops[op].flags&probeOpSupported != 0
}

package aiofs

import "syscall"

// clipsAtMaxOffset is set where read(2) and write(2) cut a transfer that
// would pass the largest offset short at it (FreeBSD: a write of 100
// bytes at MaxInt64-10 writes 10, and the rest fails with EFBIG), rather
// than refuse it with EINVAL as Linux does.
const clipsAtMaxOffset = true

// errSeekOverflow is lseek(2)'s error for a SEEK_CUR or SEEK_END whose sum
// would pass the largest offset.
const errSeekOverflow = syscall.EOVERFLOW

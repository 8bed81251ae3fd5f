package aiofs

import (
	"io"
	"sync"
)

// chunk is the buffer size WriteTo and ReadFrom copy with: the initial
// readahead window, so that WriteTo reads are seen as a stream.
const chunk = initialWindow

// chunks recycles WriteTo's and ReadFrom's buffers: allocating and
// clearing one per call cost a small file's io.Copy five times its reads.
var chunks = sync.Pool{New: func() any { return new([chunk]byte) }}

// WriteTo writes the rest of the file to w, reading through the cache and
// readahead, so that io.Copy from a File streams.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if f.kind == kindPassthrough {
		if wt, ok := f.bf.(io.WriterTo); ok {
			return wt.WriteTo(w)
		}
		return io.Copy(w, struct{ io.Reader }{f.bf})
	}
	bp := chunks.Get().(*[chunk]byte)
	defer chunks.Put(bp)
	buf := bp[:]
	var total int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ReadFrom writes what r yields to the file, so that io.Copy to a File
// fills write-behind buffers in large pieces.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if f.kind == kindPassthrough {
		if rf, ok := f.bf.(io.ReaderFrom); ok {
			return rf.ReadFrom(r)
		}
		return io.Copy(struct{ io.Writer }{f.bf}, r)
	}
	bp := chunks.Get().(*[chunk]byte)
	defer chunks.Put(bp)
	buf := bp[:]
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := f.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

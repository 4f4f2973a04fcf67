# Serves native histograms as delimited protobuf (io.prometheus.client.MetricFamily),
# one step further per scrape, for capturing Prometheus-written histogram chunks.
import http.server, struct, sys, json

def uvarint(x):
    out = b''
    while x >= 0x80:
        out += bytes([(x & 0x7f) | 0x80]); x >>= 7
    return out + bytes([x])
def zz(x): return (x << 1) ^ (x >> 63)
def key(f, wt): return uvarint(f << 3 | wt)
def f_varint(f, x): return key(f, 0) + uvarint(x)
def f_sint(f, x): return key(f, 0) + uvarint(zz(x) & (2**64-1))
def f_double(f, x): return key(f, 1) + struct.pack('<d', x)
def f_bytes(f, b): return key(f, 2) + uvarint(len(b)) + b

def span(off, ln): return f_sint(1, off) + f_varint(2, ln)

def histogram(h):
    b = f_varint(1, h['count']) + f_double(2, h['sum']) + f_sint(5, h['schema'])
    b += f_double(6, h['zt']) + f_varint(7, h['zero'])
    for o, l in h.get('nspans', []): b += f_bytes(9, span(o, l))
    for d in h.get('ndeltas', []): b += f_sint(10, d)
    for o, l in h['pspans']: b += f_bytes(12, span(o, l))
    for d in h['pdeltas']: b += f_sint(13, d)
    return b

def family(name, typ, h):
    metric = f_bytes(7, histogram(h))
    return f_bytes(1, name.encode()) + f_bytes(2, b'capture') + f_varint(3, typ) + f_bytes(4, metric)

STEPS = json.load(open(sys.argv[2]))
state = {'n': 0}

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = min(state['n'], len(STEPS) - 1)
        state['n'] += 1
        body = b''
        for name, typ, h in STEPS[n]:
            msg = family(name, typ, h)
            body += uvarint(len(msg)) + msg
        self.send_response(200)
        self.send_header('Content-Type', 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass

http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()

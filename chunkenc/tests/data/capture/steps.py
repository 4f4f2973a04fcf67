# The scrape sequence: three histograms. Counter "hc": schema 3, buckets that
# grow, new buckets appearing (recoding), resets at steps 10 and 20, schema
# change at 30. Counter "hn": negative buckets, zero threshold 0.001.
# Gauge "hg": counts up and down.
import json, random
random.seed(7)
def deltas(counts):
    prev, out = 0, []
    for c in counts:
        out.append(c - prev); prev = c
    return out
steps = []
hc = [3, 5, 0, 2]      # counts at indices 0..3 (spans [0,2],[1,1]... built below)
hn = [1, 1, 4]
for i in range(40):
    if i in (10, 20):
        hc = [1 for _ in hc]
    else:
        hc = [c + random.randint(0, 4) for c in hc]
    if i == 5 or i == 15:
        hc = hc + [random.randint(1, 3)]   # a new bucket at the end
    schema = 3 if i < 30 else 2
    pspans = [[-2, 2], [3, len(hc) - 2]]
    count = sum(hc) + 2 * i
    hcd = {'count': count, 'sum': 0.37 * i + 1.5 * count, 'schema': schema, 'zt': 2 ** -128,
           'zero': 2 * i, 'pspans': pspans, 'pdeltas': deltas(hc)}
    hn = [1, 1, 1] if i in (13, 26) else [c + random.randint(0, 2) for c in hn]
    hnd = {'count': sum(hn) * 2 + i, 'sum': -2.5 * i, 'schema': 0, 'zt': 0.001, 'zero': i,
           'pspans': [[0, 3]], 'pdeltas': deltas(hn), 'nspans': [[1, 3]], 'ndeltas': deltas(hn)}
    g = [random.randint(0, 9) for _ in range(5)]
    hgd = {'count': sum(g), 'sum': float(sum(g)) / 3, 'schema': 1, 'zt': 2 ** -128, 'zero': 0,
           'pspans': [[0, 5]], 'pdeltas': deltas(g)}
    steps.append([['hc', 4, hcd], ['hn', 4, hnd], ['hg', 5, hgd]])
json.dump(steps, open('steps.json', 'w'))

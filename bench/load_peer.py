"""The numpy peer of bench/load_speed.sh: the same work as `drec info
movielens:` on the same file -- parse the four integer columns, map user and
item ids to dense ids (np.unique), and build the by-user and by-item indexes
in time order (stable argsorts) -- and print the best wall time of 3.
Usage: load_peer.py FILE"""
import sys, time
import numpy as np

path = sys.argv[1]
best = None
for _ in range(3):
    t0 = time.perf_counter()
    a = np.loadtxt(path, dtype=np.int64, delimiter="\t")
    users, u = np.unique(a[:, 0], return_inverse=True)
    items, i = np.unique(a[:, 1], return_inverse=True)
    ts = a[:, 3]
    by_time = np.argsort(ts, kind="stable")
    by_user = by_time[np.argsort(u[by_time], kind="stable")]
    by_item = by_time[np.argsort(i[by_time], kind="stable")]
    user_ptr = np.concatenate(([0], np.cumsum(np.bincount(u, minlength=len(users)))))
    item_ptr = np.concatenate(([0], np.cumsum(np.bincount(i, minlength=len(items)))))
    dt = time.perf_counter() - t0
    best = dt if best is None else min(best, dt)
print("%.3f" % best)

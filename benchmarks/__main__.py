import sys

if sys.argv[1:2] == ["soak"]:  # the seeded chaos soak: its own options (benchmarks/soak.py)
    from benchmarks.soak import main as soak

    sys.exit(soak(sys.argv[2:]))

from benchmarks.harness import main

sys.exit(main())

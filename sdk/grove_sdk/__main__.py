import sys

from grove_sdk.volunteer import main

sys.exit(main())

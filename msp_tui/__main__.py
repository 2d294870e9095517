from msp_tui.cli import main

raise SystemExit(main())

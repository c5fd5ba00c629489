from coupling.cli import main

raise SystemExit(main())

from honcho_cli.cli.app import main

main()

from parley.cli.app import main

main()

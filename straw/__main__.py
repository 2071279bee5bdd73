from straw.cli import main

main()

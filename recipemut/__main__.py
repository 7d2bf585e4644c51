from recipemut.cli import main

main()

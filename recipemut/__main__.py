from recipemut._entry import main

main()

from shortener.cli import main

main()

from tensorscope.cli import main

main()

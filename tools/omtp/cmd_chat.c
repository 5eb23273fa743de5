int cmd_chat(int argc, char **argv);
int cmd_chat(int argc, char **argv)
{
    return 2;
}

// The subcommands of `alibi`, one file each (cmd_<name>.cpp). Each receives the arguments
// after its name (argv[0] is the subcommand) and returns the process exit code; errors
// are thrown as alibi::Error and reported once by main.
#pragma once

namespace alibi {

int cmd_preprocess(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_plan(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_check(int argc, char** argv);
int cmd_study(int argc, char** argv);

}  // namespace alibi

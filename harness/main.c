/*
 * main.c - `ternbench <command> [options]`: dispatch to one command.
 *
 * Each command lives in harness/cmd_<name>.c, parses its own options and
 * answers --help. Nothing below harness/ may exit(); commands return the
 * exit status (cli.h) and main returns it.
 */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "cli.h"
#include "count.h"
#include "docs_pages.h"

static const tb_command commands[] = {
    {"info", "describe this machine: CPU, ISA, counters, energy meters, tools", tb_cmd_info},
    {"reproduce", "the paper's comparison on dummy models, with a report beside the published claims", tb_cmd_reproduce},
    {"report", "write the report and plots of a result document", tb_cmd_report},
    {"compare", "every configuration's change between two result documents, with intervals", tb_cmd_compare},
    {"gate", "exit 1 when a result document clearly regressed against a baseline (CI)", tb_cmd_gate},
    {"merge", "combine result documents from several machines", tb_cmd_merge},
    {"history", "change points in a series of result documents (E-divisive means)", tb_cmd_history},
    {"bench", "llama-bench-style runs of several models, interleaved, with speedups", tb_cmd_bench},
    {"kernels", "micro-benchmark the GEMV/GEMM kernels against the memory roofline", tb_cmd_kernels},
    {"logits", "print a model's logits for a token sequence (to check against other engines)", tb_cmd_logits},
    {"perplexity", "a model's perplexity over a text, and its KL divergence from a base (llama-perplexity)", tb_cmd_perplexity},
    {"generate", "stream a model's continuation of a prompt, with tokens/s", tb_cmd_generate},
    {"tokenize", "print the token ids of a text (llama.cpp's tokenize)", tb_cmd_tokenize},
    {"convert", "rewrite a GGUF model's weights in another format", tb_cmd_convert},
    {"gen", "write a dummy model (or a vocabulary) as a GGUF file", tb_cmd_gen},
    {"energy", "run a command and measure the energy it takes (RAPL, perf, INA219)", tb_cmd_energy},
    {"llama-bench", "llama.cpp's llama-bench command line over ternbench's engine", tb_cmd_llama_bench},
    {"count-run", "(internal) what `bench --count` runs under valgrind", tb_cmd_count_run},
};
static const int command_count = sizeof commands / sizeof commands[0];

/* The docs/commands page that describes a command. */
static const char *page_of(const char *cmd)
{
    static const char *const pages[][2] = {
        {"report", "reproduce"}, {"gate", "compare"}, {"history", "compare"}, {"merge", "compare"},
        {"gen", "models"},       {"convert", "models"}, {"perplexity", "models"}, {"tokenize", "models"}, {"generate", "models"},
        {"llama-bench", "bench"},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (!strcmp(cmd, pages[i][0]))
            return pages[i][1];
    return cmd;
}

/* `ternbench help CMD`: the command's page of docs/commands/. */
static int help_page(const char *cmd)
{
    const char *page = page_of(cmd);
    for (int i = 0; i < tb_doc_page_count; i++)
        if (!strcmp(tb_doc_pages[i].name, page)) {
            fputs(tb_doc_pages[i].text, stdout);
            return TB_EXIT_OK;
        }
    return tb_cli_usage_error(NULL, "help: no page for '%s' (see 'ternbench --help' for the "
                              "commands)", cmd);
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: ternbench <command> [options]\n"
            "       ternbench --version | --help\n\n"
            "ternbench measures how much faster and how much less energy a ternary\n"
            "(BitNet b1.58) LLM takes than the same model in fp16/int8/int4.\n\n"
            "commands:\n");
    for (int i = 0; i < command_count; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'ternbench <command> --help' lists a command's options; 'ternbench help <command>'\n"
                 "prints its page of the reference (docs/commands/).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return TB_EXIT_USAGE;
    }
    const char *word = argv[1];
    if (strcmp(word, "help") == 0 && argc > 2)
        return help_page(argv[2]);
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
        print_help(stdout);
        return TB_EXIT_OK;
    }
    if (strcmp(word, "--version") == 0 || strcmp(word, "-V") == 0) {
        printf("ternbench %s (git %s, %s build, %s)\n", TB_VERSION, tb_build_git_commit(),
               TB_BUILD_TYPE, TB_COMPILER);
        return TB_EXIT_OK;
    }
    for (int i = 0; i < command_count; i++)
        if (strcmp(word, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (word[0] == '-')
        return tb_cli_usage_error(NULL, "unknown option '%s'", word);
    return tb_cli_usage_error(NULL, "unknown command '%s'", word);
}

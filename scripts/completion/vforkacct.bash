# SPDX-License-Identifier: GPL-2.0
# bash completion for scripts/vforkacct.
#
#   . scripts/completion/vforkacct.bash        (or copy it to
#   /usr/share/bash-completion/completions/vforkacct)
#
# Completes subcommands, each subcommand's options, file names for the
# options that take files, and the choices of --by.  The option lists are
# checked against the CLI's parser by scripts/tests/test_cli.py.

_vforkacct_opts() {
	case $1 in
	load) echo "-h --help --ratio --kbytes --limit-kb --config --meminfo -n --dry-run --log-size --ko --sync-if-loaded" ;;
	sync) echo "-h --help --ratio --kbytes --limit-kb --config --meminfo -n --dry-run --quiet" ;;
	unload) echo "-h --help" ;;
	report) echo "-h --help --json --by --forks --summary --ratio --kbytes --limit-kb --meminfo --cgroup-map --kb --prompt-ms" ;;
	advise) echo "-h --help --json --summary --meminfo --forks --ratio --kbytes --limit-kb --kb" ;;
	export) echo "-h --help --out --top --by --forks --summary --cgroup-map" ;;
	watch) echo "-h --help --poll --trace --forks --backlog --interval --count --hold -p --pid -c --comm --unit --cgroup -x --fail --json --csv --prompt-ms --cgroup-map --kb" ;;
	plot) echo "-h --help --forks --summary --keep" ;;
	esac
}

_vforkacct() {
	local cur prev sub i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local subs="load sync unload report advise export watch plot"
	sub=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) sub=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [ -z "$sub" ]; then
		COMPREPLY=($(compgen -W "$subs -h --help --version" -- "$cur"))
		return
	fi
	case $prev in
	--forks | --summary | --meminfo | --cgroup-map | --out | --ko | --config)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--by)
		if [ "$sub" = export ]; then
			COMPREPLY=($(compgen -W "unit cgroup" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "comm cgroup unit uid" -- "$cur"))
		fi
		return ;;
	--cgroup)
		if [ -d /sys/fs/cgroup ]; then
			COMPREPLY=($(cd /sys/fs/cgroup && compgen -d -- "$cur"))
		fi
		return ;;
	--ratio | --kbytes | --limit-kb | --log-size | --top | --interval | \
	--count | --hold | -p | --pid | -c | --comm | --unit | --prompt-ms)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_vforkacct_opts "$sub")" -- "$cur"))
	elif [ "$sub" = plot ]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _vforkacct vforkacct

-- The benchmark's reference: the core work of the warehouse as one plain DuckDB script, i.e.
-- the engine's own limit for it. It reads every worklog CSV of a raw folder (clean, canonical
-- CSV as `kpi generate --formats csv --clean` writes it), takes the current version of each
-- entry, keeps the approved ones, prices them with the catalogue norm of the staff member's
-- agency on work_date, and sums the credited hours per staff-day (contract/metrics.md:
-- "Crediting a worklog entry" and "The staff-day").
--
-- Run by bench/reference.py, which replaces the {placeholders} and writes the result table
-- into a fresh DuckDB file (the warehouse writes its tables to disk too).
--
-- What it leaves out on purpose (the warehouse does it, the engine's limit does not need it):
-- quarantine and the ledger, flags, evidence, leave and available hours, periods and the
-- other marts. Clean data has no overlapping assignments, so the assignment join is a plain
-- range join (the warehouse quarantines the later of two overlapping assignments).

SET memory_limit = '{memory_limit}';
SET temp_directory = '{temp_dir}';
SET threads = {threads};
SET preserve_insertion_order = false;

-- The worklog as the CSVs hold it, typed while parsed (a view: read where it is used).
CREATE OR REPLACE TEMP VIEW worklog AS
    SELECT *
    FROM read_csv(
        '{raw_dir}/worklog/*.csv',
        header = true,
        auto_detect = false,
        filename = true,
        dateformat = '%Y-%m-%d',
        timestampformat = '%Y-%m-%d %H:%M',
        columns = {
            'entry_id': 'VARCHAR',
            'revision': 'INTEGER',
            'staff_id': 'VARCHAR',
            'work_date': 'DATE',
            'task_code': 'VARCHAR',
            'stage_code': 'VARCHAR',
            'quantity': 'DOUBLE',
            'declared_minutes': 'INTEGER',
            'description': 'VARCHAR',
            'document_ref': 'VARCHAR',
            'status': 'VARCHAR',
            'submitted_at': 'TIMESTAMP',
            'reviewed_by': 'VARCHAR',
            'reviewed_at': 'TIMESTAMP'
        }
    );

-- {store_once}: bench/reference.py --store-once runs the statements above, then stores the
-- view as a table, instead of the core work below.

CREATE OR REPLACE TABLE staff_day_credited AS
WITH
-- The current version of an entry: its highest revision; a tie goes to the later file.
current_versions AS (

    SELECT
        entry_id,
        arg_max(
            {
                'staff_id': staff_id,
                'work_date': work_date,
                'task_code': task_code,
                'stage_key': coalesce(stage_code, ''),
                'quantity': coalesce(quantity, 1),
                'status': status
            },
            (coalesce(revision, 1), filename)
        ) AS v
    FROM worklog
    GROUP BY entry_id

),

approved AS (

    SELECT unnest(v)
    FROM current_versions
    WHERE v.status = 'approved'

),

assignments AS (

    SELECT
        staff_id,
        agency_code,
        assignment_start,
        coalesce(assignment_end, DATE '9999-12-31') AS assignment_end
    FROM read_csv(
        '{raw_dir}/staff/*.csv',
        header = true,
        auto_detect = false,
        dateformat = '%Y-%m-%d',
        columns = {
            'staff_id': 'VARCHAR',
            'full_name': 'VARCHAR',
            'agency_code': 'VARCHAR',
            'department': 'VARCHAR',
            'position_code': 'VARCHAR',
            'is_leader': 'BOOLEAN',
            'assignment_start': 'DATE',
            'assignment_end': 'DATE'
        }
    )

),

-- Each norm with the day its successor takes over, so that "the latest valid_from on or
-- before work_date" is a range condition on a hash join (faster here than an ASOF join).
tasks AS (

    SELECT
        agency_code,
        task_code,
        coalesce(stage_code, '') AS stage_key,
        valid_from,
        lead(valid_from) OVER (
            PARTITION BY agency_code, task_code, coalesce(stage_code, '')
            ORDER BY valid_from
        ) AS valid_until,
        standard_minutes
    FROM read_csv(
        '{raw_dir}/tasks/*.csv',
        header = true,
        auto_detect = false,
        dateformat = '%Y-%m-%d',
        columns = {
            'agency_code': 'VARCHAR',
            'task_code': 'VARCHAR',
            'task_name': 'VARCHAR',
            'task_group': 'VARCHAR',
            'stage_code': 'VARCHAR',
            'stage_name': 'VARCHAR',
            'unit': 'VARCHAR',
            'standard_minutes': 'DOUBLE',
            'evidence_type': 'VARCHAR',
            'valid_from': 'DATE'
        }
    )

),

-- The agency comes from the HR assignment in force on work_date.
placed AS (

    SELECT approved.*, assignments.agency_code
    FROM approved
    INNER JOIN assignments
        ON approved.staff_id = assignments.staff_id
        AND approved.work_date BETWEEN assignments.assignment_start AND assignments.assignment_end

),

-- The norm: the agency's catalogue row for the task and stage with the latest
-- valid_from on or before work_date. Entries without one credit nothing.
priced AS (

    SELECT placed.staff_id, placed.work_date, placed.quantity * tasks.standard_minutes AS minutes
    FROM placed
    INNER JOIN tasks
        ON placed.agency_code = tasks.agency_code
        AND placed.task_code = tasks.task_code
        AND placed.stage_key = tasks.stage_key
        AND placed.work_date >= tasks.valid_from
        AND (tasks.valid_until IS NULL OR placed.work_date < tasks.valid_until)

)

SELECT staff_id, work_date, sum(minutes) / 60.0 AS credited_hours
FROM priced
GROUP BY staff_id, work_date;

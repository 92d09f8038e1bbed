-- The declarations keep, and norm_review groups them by, a 64-bit hash of the norm's four key
-- columns (int_tasks_versioned.norm_key, row_key): two catalogue rows with the same hash would
-- pool their declarations. Returns the catalogue rows whose hash another row shares.
with norm_keys as (

    select agency_code, task_code, stage_key, valid_from, norm_key
    from {{ ref('int_tasks_versioned') }}

),

shared_keys as (

    select norm_key
    from norm_keys
    group by norm_key
    having count(*) > 1

)

select norm_keys.*
from norm_keys
inner join shared_keys
    on norm_keys.norm_key = shared_keys.norm_key
